use super::super::python::{normalize_name, parse_requirement};
use super::{consumed, consumed_names, describe_repository, github_of, produced, strings, BuildSystem, Ecosystem};

const POETRY: &str = r#"
[tool.poetry]
name = "Acme_Analytics"
version = "0.9.0"
description = "Analytics pipeline"
packages = [{ include = "acme_analytics" }]

[tool.poetry.dependencies]
python = "^3.11"
pandas = "^2.2"
acme-common = { git = "https://github.com/acme/common-py.git", tag = "v1.3.0" }
requests = { version = "^2.32", extras = ["socks"] }

[tool.poetry.group.dev.dependencies]
pytest = "^8.0"
ruff = "^0.5"

[tool.pytest.ini_options]
testpaths = ["tests"]

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
"#;

const HATCH: &str = r#"
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "acme.metrics"
dynamic = ["version"]
requires-python = ">=3.9"
dependencies = [
  "httpx>=0.27",
  "Acme-Common[async] @ git+https://github.com/acme/common-py@v1.3.0",
  "importlib-metadata; python_version < '3.10'",
]

[project.optional-dependencies]
cli = ["typer[all]>=0.12"]

[dependency-groups]
test = ["pytest>=8", { include-group = "lint" }]
lint = ["ruff"]

[tool.hatch.version]
path = "src/acme_metrics/__about__.py"
"#;

const SETUP_CFG: &str = r#"
[metadata]
name = acme-legacy
version = attr: acme_legacy.__version__

[options]
packages = find:
install_requires =
    click>=8
    acme_common>=1.2  # shared helpers
    PyYAML ; platform_system != "Windows"

[options.extras_require]
docs =
    sphinx

[tool:pytest]
addopts = -ra
"#;

const REQUIREMENTS: &str = r#"# Production dependencies
-r requirements/base.txt
-c constraints.txt
--index-url https://pypi.org/simple

Django[argon2]>=5.0,<6  # web framework
celery[redis] ; python_version >= "3.8"
psycopg[binary]==3.2.1 \
    --hash=sha256:abcdef
-e git+https://github.com/acme/django-auth.git@main#egg=acme-django-auth
acme-billing @ git+ssh://git@github.com/acme/billing-py.git@v2
https://github.com/acme/reports/archive/refs/heads/main.zip#egg=acme_reports
-e .
"#;

#[test]
fn poetry_project() {
    let description = describe_repository(&[("pyproject.toml", POETRY)], &["poetry.lock", "tests/test_pipeline.py"]);
    assert_eq!(description.language.as_deref(), Some("python"));
    assert_eq!(description.build_systems, vec![BuildSystem::Poetry]);
    assert_eq!(description.build_command.as_deref(), Some("poetry build"));
    assert_eq!(description.test_command.as_deref(), Some("poetry run pytest"));
    assert_eq!(
        produced(&description, Ecosystem::Python),
        vec![("Acme_Analytics".into(), "pyproject.toml".into(), true)]
    );
    assert_eq!(
        consumed_names(&description, Ecosystem::Python),
        strings(&["acme-common", "pandas", "poetry-core", "pytest", "requests", "ruff"])
    );
    assert_eq!(github_of(&description, "acme-common"), Some(("acme".into(), "common-py".into())));
}

#[test]
fn hatch_project_with_direct_references_extras_markers_and_groups() {
    let description =
        describe_repository(&[("pyproject.toml", HATCH)], &["src/acme_metrics/__init__.py", "tests/conftest.py"]);
    assert_eq!(description.build_systems, vec![BuildSystem::Hatch]);
    assert_eq!(description.build_command.as_deref(), Some("hatch build"));
    assert_eq!(description.test_command.as_deref(), Some("hatch test"));
    assert_eq!(produced(&description, Ecosystem::Python), vec![("acme.metrics".into(), "pyproject.toml".into(), true)]);
    let python = consumed(&description, Ecosystem::Python);
    assert!(python.contains(&("Acme-Common".into(), "Acme-Common[async]".into(), "pyproject.toml".into())));
    assert!(python.contains(&("typer".into(), "typer[all]".into(), "pyproject.toml".into())));
    assert_eq!(
        consumed_names(&description, Ecosystem::Python),
        strings(&["Acme-Common", "hatchling", "httpx", "importlib-metadata", "pytest", "ruff", "typer"])
    );
    assert_eq!(github_of(&description, "Acme-Common"), Some(("acme".into(), "common-py".into())));
}

#[test]
fn setuptools_setup_cfg_with_tox() {
    let description = describe_repository(
        &[("setup.cfg", SETUP_CFG), ("setup.py", "from setuptools import setup\n\nsetup()\n")],
        &["tox.ini", "acme_legacy/__init__.py"],
    );
    assert_eq!(description.build_systems, vec![BuildSystem::Setuptools, BuildSystem::Tox]);
    assert_eq!(description.build_command.as_deref(), Some("python -m build"));
    assert_eq!(description.test_command.as_deref(), Some("tox"), "tox wins over the pytest configuration");
    assert_eq!(produced(&description, Ecosystem::Python), vec![("acme-legacy".into(), "setup.cfg".into(), true)]);
    assert_eq!(consumed_names(&description, Ecosystem::Python), strings(&["PyYAML", "acme_common", "click", "sphinx"]));
}

#[test]
fn setup_py_is_searched_not_run() {
    let literal = "from setuptools import setup\nsetup(\n    name='acme-tool',\n    install_requires=[\n        'requests>=2',\n        \"acme-common\",\n    ],\n)\n";
    let description = describe_repository(&[("setup.py", literal)], &[]);
    assert_eq!(produced(&description, Ecosystem::Python), vec![("acme-tool".into(), "setup.py".into(), true)]);
    assert_eq!(consumed_names(&description, Ecosystem::Python), strings(&["acme-common", "requests"]));
    assert_eq!(description.test_command, None, "no pytest configuration, no tests: no test command");

    let computed = "setup(name='x', install_requires=read_requirements('requirements.in'))\n";
    let description = describe_repository(&[("setup.py", computed)], &[]);
    assert_eq!(description.unresolved.len(), 1, "{:?}", description.unresolved);
    assert_eq!(description.unresolved[0].reference, "read_requirements");
}

#[test]
fn requirements_files_with_comments_options_includes_and_urls() {
    let base = "requests>=2.31\n# comment only\n";
    let description = describe_repository(
        &[
            ("requirements.txt", REQUIREMENTS),
            ("requirements/base.txt", base),
            ("requirements-dev.txt", "pytest\n-r requirements.txt\n"),
        ],
        &["app.py", "constraints.txt"],
    );
    assert_eq!(description.build_systems, vec![BuildSystem::Pip]);
    assert_eq!(description.build_command.as_deref(), Some("pip install -r requirements.txt"));
    assert_eq!(description.test_command.as_deref(), Some("pytest"), "pytest is a dependency");
    let python = consumed(&description, Ecosystem::Python);
    assert!(python.contains(&("Django".into(), "Django[argon2]".into(), "requirements.txt".into())));
    assert!(python.contains(&("celery".into(), "celery[redis]".into(), "requirements.txt".into())));
    assert!(python.contains(&("psycopg".into(), "psycopg[binary]".into(), "requirements.txt".into())));
    assert!(python.contains(&("requests".into(), "requests".into(), "requirements/base.txt".into())));
    assert_eq!(github_of(&description, "acme-django-auth"), Some(("acme".into(), "django-auth".into())));
    assert_eq!(github_of(&description, "acme-billing"), Some(("acme".into(), "billing-py".into())));
    assert_eq!(github_of(&description, "acme_reports"), Some(("acme".into(), "reports".into())));
    assert_eq!(
        consumed_names(&description, Ecosystem::Python),
        strings(&[
            "Django",
            "acme-billing",
            "acme-django-auth",
            "acme_reports",
            "celery",
            "psycopg",
            "pytest",
            "requests"
        ])
    );
}

#[test]
fn uv_workspace_members() {
    let root = "[project]\nname = \"acme-platform\"\ndependencies = [\"acme-worker\"]\n\n[tool.uv.workspace]\nmembers = [\"packages/*\"]\n\n[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n";
    let worker = "[project]\nname = \"acme-worker\"\ndependencies = [\"redis>=5\"]\n";
    let description = describe_repository(
        &[("pyproject.toml", root), ("packages/worker/pyproject.toml", worker)],
        &["uv.lock", "pytest.ini"],
    );
    assert_eq!(description.build_systems, vec![BuildSystem::Hatch, BuildSystem::Uv]);
    assert_eq!(description.build_command.as_deref(), Some("uv build"));
    assert_eq!(description.test_command.as_deref(), Some("uv run pytest"));
    let names: Vec<String> = produced(&description, Ecosystem::Python).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(names, strings(&["acme-platform", "acme-worker"]));
}

#[test]
fn pep_508_and_pep_503() {
    let cases = [
        ("requests", "requests", "requests", None),
        ("Requests[security,socks] >= 2.8.1, == 2.8.*", "Requests", "Requests[security,socks]", None),
        ("name @ https://example.com/name.zip ; os_name == 'a'", "name", "name", Some("https://example.com/name.zip")),
        ("zope.interface (>=5)", "zope.interface", "zope.interface", None),
        ("pip; python_version < '3.9'", "pip", "pip", None),
    ];
    for (text, name, declared, url) in cases {
        let requirement = parse_requirement(text).expect(text);
        assert_eq!((requirement.name.as_str(), requirement.declared.as_str()), (name, declared), "{text}");
        assert_eq!(requirement.url.as_deref(), url, "{text}");
    }
    assert_eq!(parse_requirement("  # nothing"), None);
    assert_eq!(normalize_name("Friendly-Bard"), "friendly-bard");
    assert_eq!(normalize_name("FRIENDLY._-_bard"), "friendly-bard");
    assert_eq!(normalize_name("acme.metrics"), "acme-metrics");
}

#[test]
fn one_pep_503_normalization_serves_detection_and_manifest_edits() {
    let cases = [
        // Detection: a dependency and the package it names.
        ("Friendly-Bard", "friendly-bard"),
        ("FRIENDLY._-_bard", "friendly-bard"),
        ("acme.metrics", "acme-metrics"),
        // Manifest edits: an advisory's package and the name that starts a requirements line.
        ("Django", "django"),
        ("PyYAML", "pyyaml"),
        ("zope.interface", "zope-interface"),
        ("Zope__Interface", "zope-interface"),
        ("urllib3", "urllib3"),
        // Python's `str.lower()`, as in PEP 503's `re.sub(r"[-_.]+", "-", name).lower()`, is not ASCII-only.
        ("Ünïcode_Name", "ünïcode-name"),
    ];
    for (name, normalized) in cases {
        assert_eq!(normalize_name(name), normalized, "{name}");
        assert_eq!(Ecosystem::Python.normalize(name), normalized, "{name}");
    }
}

#[test]
fn an_included_requirements_file_that_was_not_fetched_is_unresolved() {
    let description = describe_repository(&[("requirements.txt", "-r ../shared/requirements.txt\nflask\n")], &[]);
    assert_eq!(consumed_names(&description, Ecosystem::Python), strings(&["flask"]));
    assert_eq!(description.unresolved.len(), 1);
    assert_eq!(description.unresolved[0].reference, "-r ../shared/requirements.txt");
}
