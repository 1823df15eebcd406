//! Which build and test commands a BuildPlan dispatch sends. Pure: a Repository's spec and status in, the
//! `workflow_dispatch` inputs out.
//!
//! The commands in effect are the Repository's `spec.build.command` / `spec.test.command` when set, else what
//! discovery recorded in `status.buildCommand` / `status.testCommand`. They go to the workflow as its
//! [`BUILD_COMMAND_INPUT`] and [`TEST_COMMAND_INPUT`] inputs, each only when the workflow declares that input:
//! GitHub refuses a dispatch carrying an input the workflow does not declare (422). `spec.build.inputs` is sent as
//! written and wins over a computed command of the same name: it is the most specific thing a person wrote.

use std::collections::BTreeMap;

pub use super::detect::{BUILD_COMMAND_INPUT, TEST_COMMAND_INPUT};

use super::detect::CommandsInEffect;
use crate::crd::repository::{BuildOverrides, TestOverrides};

/// The commands a dispatch runs with: the spec's overrides, else the ones discovery recorded in status (which are
/// themselves the overrides of the last discovery pass, else detection's). Reading the spec first makes an
/// override count from the next dispatch on, without waiting for a discovery pass.
pub fn in_effect(
    build: Option<&BuildOverrides>,
    test: Option<&TestOverrides>,
    recorded_build: Option<&str>,
    recorded_test: Option<&str>,
) -> CommandsInEffect {
    CommandsInEffect {
        build_command: build.and_then(|b| b.command.clone()).or_else(|| recorded_build.map(str::to_owned)),
        test_command: test.and_then(|t| t.command.clone()).or_else(|| recorded_test.map(str::to_owned)),
    }
}

/// The inputs of a dispatch, besides the correlation id: each command in effect under its input's name when
/// `declared` (the workflow's `workflow_dispatch` inputs) names that input, then every `explicit` input
/// (`spec.build.inputs`), which replaces a computed one of the same name. An empty command is not sent: the
/// workflow's own default then applies.
pub fn dispatch_inputs(
    explicit: &BTreeMap<String, String>,
    commands: &CommandsInEffect,
    declared: &[String],
) -> BTreeMap<String, String> {
    let mut inputs = BTreeMap::new();
    for (input, command) in
        [(BUILD_COMMAND_INPUT, &commands.build_command), (TEST_COMMAND_INPUT, &commands.test_command)]
    {
        let Some(command) = command.as_deref().filter(|c| !c.trim().is_empty()) else { continue };
        if declared.iter().any(|d| d == input) {
            inputs.insert(input.to_owned(), command.to_owned());
        }
    }
    inputs.extend(explicit.iter().map(|(name, value)| (name.clone(), value.clone())));
    inputs
}

/// The commands a dispatch with `inputs` sends, as a BuildPlan entry records them.
pub fn sent(inputs: &BTreeMap<String, String>) -> CommandsInEffect {
    CommandsInEffect {
        build_command: inputs.get(BUILD_COMMAND_INPUT).cloned(),
        test_command: inputs.get(TEST_COMMAND_INPUT).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(build: Option<&str>, test: Option<&str>) -> CommandsInEffect {
        CommandsInEffect { build_command: build.map(str::to_owned), test_command: test.map(str::to_owned) }
    }

    fn declared(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn the_spec_override_wins_over_what_status_recorded() {
        let build = BuildOverrides { command: Some("make release".into()), ..BuildOverrides::default() };
        let effect = in_effect(Some(&build), None, Some("cargo build --locked"), Some("cargo test"));
        assert_eq!(effect, commands(Some("make release"), Some("cargo test")));
        let test = TestOverrides { command: Some("make check".into()) };
        assert_eq!(in_effect(None, Some(&test), None, None), commands(None, Some("make check")));
        assert_eq!(in_effect(None, None, Some("go build ./..."), None), commands(Some("go build ./..."), None));
    }

    #[test]
    fn commands_go_only_to_a_workflow_that_declares_their_input() {
        let effect = commands(Some("npm ci && npm run build"), Some("npm test"));
        let none = BTreeMap::new();
        let all = dispatch_inputs(&none, &effect, &declared(&["correlation_id", "build_command", "test_command"]));
        assert_eq!(
            all,
            BTreeMap::from([
                ("build_command".to_owned(), "npm ci && npm run build".to_owned()),
                ("test_command".to_owned(), "npm test".to_owned()),
            ])
        );
        let build_only = dispatch_inputs(&none, &effect, &declared(&["build_command"]));
        assert_eq!(build_only.keys().collect::<Vec<_>>(), ["build_command"]);
        assert!(dispatch_inputs(&none, &effect, &declared(&["correlation_id"])).is_empty(), "undeclared: 422");
        assert!(dispatch_inputs(&none, &effect, &[]).is_empty());
    }

    #[test]
    fn no_command_or_an_empty_one_is_not_sent() {
        let both = declared(&["build_command", "test_command"]);
        let none = BTreeMap::new();
        assert!(dispatch_inputs(&none, &commands(None, None), &both).is_empty());
        assert!(dispatch_inputs(&none, &commands(Some(" "), None), &both).is_empty());
    }

    #[test]
    fn explicit_inputs_are_sent_as_written_and_win_over_computed_ones() {
        let explicit = BTreeMap::from([
            ("build_command".to_owned(), "make by-hand".to_owned()),
            ("target".to_owned(), "x86_64".to_owned()),
        ]);
        let inputs =
            dispatch_inputs(&explicit, &commands(Some("make"), Some("make test")), &declared(&["build_command"]));
        assert_eq!(
            inputs,
            BTreeMap::from([
                ("build_command".to_owned(), "make by-hand".to_owned()),
                ("target".to_owned(), "x86_64".to_owned()),
            ])
        );
        assert_eq!(sent(&inputs), commands(Some("make by-hand"), None));
    }
}
