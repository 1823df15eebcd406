//! The operator's configuration as users give it: a file, environment variables and flags to the binary, and the
//! file the Helm chart renders. A bad value stops the operator before it touches anything, naming the key.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use infinity_orchestrator::config::{self, OperatorConfig};
use support::repo_root;

/// Arguments, environment, and what the error must say.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], String);

fn operator(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"));
    command.args(args).envs(env.iter().copied());
    // No cluster is reachable: a configuration error must come before any attempt to connect.
    command.env("KUBECONFIG", "/nonexistent/kubeconfig").env_remove("IO_CONFIG");
    command.output().expect("running the operator")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_value_stops_the_operator_at_start_with_the_key_and_its_source() {
    let dir = std::env::temp_dir().join(format!("io-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("orchestrator.yml");
    std::fs::write(&file, "build:\n  max_parallel: 0\n").unwrap();
    let file = file.to_str().unwrap();

    let cases: [Case; 4] = [
        (
            &["run", "--config", file],
            &[],
            format!("{file}: build.max_parallel: expected a whole number from 1 to 256, got \"0\""),
        ),
        (
            &["run"],
            &[("IO_SELF_HEALING_AUTO_RETRY", "maybe")],
            "environment variable IO_SELF_HEALING_AUTO_RETRY: self_healing.auto_retry: expected true or false, got \
             \"maybe\""
                .to_owned(),
        ),
        (
            &["run", "--set", "monitoring.failure_treshold=2"],
            &[],
            "--set: unknown key \"monitoring.failure_treshold\" (did you mean \"monitoring.failure_threshold\"?)"
                .to_owned(),
        ),
        (
            &["run", "--config", "/nonexistent/orchestrator.yml"],
            &[],
            "cannot read the configuration file /nonexistent/orchestrator.yml".to_owned(),
        ),
    ];
    for (args, env, expected) in cases {
        let output = operator(args, env);
        assert!(!output.status.success(), "{args:?} {env:?} started");
        let text = stderr(&output);
        assert!(text.contains("invalid configuration") && text.contains(&expected), "{args:?}: {text}");
        assert!(!text.contains("Kubernetes"), "the configuration is checked before connecting: {text}");
    }

    // A good file with an override gets past the configuration, to the missing cluster.
    std::fs::write(dir.join("good.yml"), "build:\n  max_parallel: 4\n").unwrap();
    let good = dir.join("good.yml");
    let output = operator(&["run", "--config", good.to_str().unwrap(), "--set", "build.max_parallel=8"], &[]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(!text.contains("invalid configuration") && text.contains("Kubernetes"), "{text}");
}

#[test]
fn run_help_names_every_key() {
    let output = operator(&["run", "--help"], &[]);
    let help = String::from_utf8_lossy(&output.stdout);
    for key in config::keys() {
        assert!(help.contains(key), "`run --help` does not name {key}:\n{help}");
    }
}

/// The `orchestrator.yml` that `helm template` renders with `values`.
fn rendered_config(values: &[&str]) -> String {
    let tools = Command::new("bash").arg(repo_root().join("scripts/helm-tools.sh")).output().expect("helm-tools.sh");
    assert!(tools.status.success(), "{}", stderr(&tools));
    let helm = Path::new(String::from_utf8_lossy(&tools.stdout).trim()).join("helm");
    let chart = repo_root().join("charts/infinity-orchestrator");
    let mut args = vec!["template", "t", chart.to_str().unwrap(), "--show-only", "templates/configmap.yaml"];
    for value in values {
        args.extend(["--set", value]);
    }
    let output = Command::new(helm).args(&args).output().expect("helm template");
    assert!(output.status.success(), "{}", stderr(&output));
    let config_map: serde_yaml::Value = serde_yaml::from_slice(&output.stdout).expect("a ConfigMap");
    config_map["data"]["orchestrator.yml"].as_str().expect("orchestrator.yml in the ConfigMap").to_owned()
}

#[test]
fn the_chart_renders_a_file_the_operator_accepts() {
    let resolve = |text: &str| OperatorConfig::resolve(Some((Path::new("chart"), text)), &BTreeMap::new(), &[]);
    let defaults = resolve(&rendered_config(&[])).expect("the chart's default configuration");
    assert_eq!(defaults, OperatorConfig::default(), "the chart's values.yaml states the built-in defaults");
    let custom = resolve(&rendered_config(&["config.build.max_parallel=3", "config.self_healing.create_issues=false"]))
        .expect("a customised configuration");
    assert_eq!(custom.build.max_parallel, 3);
    assert!(!custom.self_healing.create_issues);
}
