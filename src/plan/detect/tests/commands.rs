//! Precedence between toolchains, Makefiles, CMake and Dockerfiles, and overrides.

use super::super::make::parse_makefile;
use super::super::{commands_in_effect, language_from_github, CommandsInEffect};
use super::{describe_repository, describe_with_language, strings, BuildSystem, RepositoryDescription};
use crate::crd::repository::{BuildOverrides, TestOverrides};

const MAKEFILE: &str = "\
# Build helpers
GO ?= go
VERSION := $(shell git describe --tags)
BIN = bin/server

.PHONY: all build test lint

all: build

build: generate
\t$(GO) build -o $(BIN) ./cmd/server

test:
\t$(GO) test -race ./...

%.pb.go: %.proto
\tprotoc $<

$(BIN): build

define HELP
usage: make build
fake-target: inside define
endef

ifeq ($(CI),true)
lint:
\tgolangci-lint run
endif
";

#[test]
fn makefile_targets_are_read_from_rule_lines_only() {
    let makefile = parse_makefile(MAKEFILE);
    assert_eq!(makefile.targets, strings(&["all", "build", "test", "lint"]));
    assert_eq!(makefile.default_goal(), Some("all"));
}

#[test]
fn precedence_table() {
    let cargo = "[package]\nname = \"tool\"\n";
    let go_mod = "module github.com/acme/svc\n";
    let package_json = r#"{"name": "docs-tooling", "private": true, "devDependencies": {"prettier": "3"}}"#;
    let pyproject = "[project]\nname = \"svc\"\n[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n";
    let only_check = "all:\n\tcc -o tool tool.c\ncheck:\n\t./tool --self-test\n";
    let cmake = "cmake_minimum_required(VERSION 3.20)\nproject(codec LANGUAGES C)\nenable_testing()\nadd_test(NAME unit COMMAND unit)\n";
    // (files, other paths, GitHub language, language, build, test)
    type Case<'a> =
        (Vec<(&'a str, &'a str)>, Vec<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        // A Makefile's build and test targets win over the language's own tool, each separately.
        (
            vec![("go.mod", go_mod), ("Makefile", MAKEFILE)],
            vec![],
            None,
            Some("go"),
            Some("make build"),
            Some("make test"),
        ),
        (
            vec![("Cargo.toml", cargo), ("Makefile", "build:\n\tcargo build --release\n")],
            vec![],
            None,
            Some("rust"),
            Some("make build"),
            Some("cargo test"),
        ),
        // A Makefile with neither target only fills gaps: `make` when no toolchain builds, `make check` when none tests.
        (vec![("Makefile", only_check)], vec!["tool.c"], None, Some("c"), Some("make"), Some("make check")),
        (vec![("Makefile", only_check)], vec!["src/codec.cc"], None, Some("cpp"), Some("make"), Some("make check")),
        // Node tooling beside a Python project: GitHub's language picks the primary toolchain.
        (
            vec![("package.json", package_json), ("pyproject.toml", pyproject)],
            vec!["package-lock.json", "tests/test_api.py"],
            Some("Python"),
            Some("python"),
            Some("python -m build"),
            Some("pytest"),
        ),
        // Without GitHub's word, a package.json with no scripts is tooling: the Python project is primary.
        (
            vec![("package.json", package_json), ("pyproject.toml", pyproject)],
            vec!["package-lock.json"],
            None,
            Some("python"),
            Some("python -m build"),
            None,
        ),
        // CMake, with testing enabled, and its language.
        (
            vec![("CMakeLists.txt", cmake)],
            vec!["src/codec.c"],
            None,
            Some("c"),
            Some("cmake -B build && cmake --build build"),
            Some("ctest --test-dir build"),
        ),
        (
            vec![("CMakeLists.txt", "project(app)\nadd_executable(app main.cpp)\n")],
            vec!["main.cpp"],
            None,
            Some("cpp"),
            Some("cmake -B build && cmake --build build"),
            None,
        ),
        // Dockerfile only.
        (vec![], vec!["Dockerfile", "README.md"], None, Some("docker"), Some("docker build ."), None),
        // A Dockerfile never replaces a toolchain's build.
        (vec![("go.mod", go_mod)], vec!["Dockerfile"], None, Some("go"), Some("go build ./..."), Some("go test ./...")),
        // Nothing detected: GitHub's language, no commands.
        (vec![], vec!["README.md", "install.sh"], Some("Shell"), Some("shell"), None, None),
    ];
    for (files, other_paths, github, language, build, test) in cases {
        let description = describe_with_language(&files, &other_paths, github);
        let context = format!("{files:?} {other_paths:?} {github:?}");
        assert_eq!(description.language.as_deref(), language, "{context}");
        assert_eq!(description.build_command.as_deref(), build, "{context}");
        assert_eq!(description.test_command.as_deref(), test, "{context}");
    }
}

#[test]
fn build_systems_list_everything_found() {
    let description = describe_repository(
        &[("go.mod", "module example.com/x\n"), ("Makefile", MAKEFILE), ("package.json", r#"{"name": "x"}"#)],
        &["Dockerfile", "yarn.lock"],
    );
    assert_eq!(description.build_system_names(), strings(&["yarn", "go", "make", "docker"]));
    assert_eq!(
        description.build_systems,
        vec![BuildSystem::Yarn, BuildSystem::Go, BuildSystem::Make, BuildSystem::Docker]
    );
}

#[test]
fn overrides_win_over_detection() {
    let detected = RepositoryDescription {
        build_command: Some("cargo build".into()),
        test_command: Some("cargo test".into()),
        ..RepositoryDescription::default()
    };
    let build = BuildOverrides { command: Some("make release".into()), ..BuildOverrides::default() };
    let test = TestOverrides { command: Some("make integration".into()) };
    let no_command = BuildOverrides { workflow: Some("ci.yml".into()), ..BuildOverrides::default() };
    let cases = [
        (None, None, Some("cargo build"), Some("cargo test")),
        (Some(&build), None, Some("make release"), Some("cargo test")),
        (None, Some(&test), Some("cargo build"), Some("make integration")),
        (Some(&no_command), Some(&TestOverrides::default()), Some("cargo build"), Some("cargo test")),
    ];
    for (build, test, expected_build, expected_test) in cases {
        assert_eq!(
            commands_in_effect(&detected, build, test),
            CommandsInEffect {
                build_command: expected_build.map(String::from),
                test_command: expected_test.map(String::from)
            }
        );
    }
    let nothing = commands_in_effect(&RepositoryDescription::default(), Some(&build), None);
    assert_eq!(nothing.build_command.as_deref(), Some("make release"));
    assert_eq!(nothing.test_command, None);
}

#[test]
fn github_language_names() {
    for (github, ours) in [
        ("C++", "cpp"),
        ("TypeScript", "typescript"),
        ("Dockerfile", "docker"),
        ("Jupyter Notebook", "jupyter-notebook"),
        ("C#", "csharp"),
    ] {
        assert_eq!(language_from_github(github), ours);
    }
}
