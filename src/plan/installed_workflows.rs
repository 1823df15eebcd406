//! The workflows the operator installs in a repository (onboarding, and configuration repair): the build workflow
//! it dispatches and the reusable templates that workflow calls, as shipped in `config/workflows/`, compiled in so
//! that what the operator writes is exactly what this release tested.
//!
//! The build workflow is installed with the repository's commands in effect written into it
//! ([`build_workflow`]): a run started by `push` has an empty `inputs` context, where input defaults do not
//! apply, so each job falls back to the command written into it. A BuildPlan dispatch sends the commands as inputs
//! (`plan::build_commands`), which win over the written ones.

use super::detect::{CommandsInEffect, WrittenCommands, BUILD_COMMAND_INPUT, TEST_COMMAND_INPUT};

/// The dispatchable build workflow (`config/workflows/infinity-orchestrator.yml`).
pub const BUILD_WORKFLOW: &str = include_str!("../../config/workflows/infinity-orchestrator.yml");

/// The reusable templates the build workflow calls, and the lockfile-update workflow healing dispatches on
/// dependency-update pull requests, by file name. GitHub runs reusable workflows only from `.github/workflows/`
/// itself (and dispatches only workflows on the default branch), so they go beside it, not in a subdirectory.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("build-template.yml", include_str!("../../config/workflows/reusable/build-template.yml")),
    ("test-template.yml", include_str!("../../config/workflows/reusable/test-template.yml")),
    ("deploy-template.yml", include_str!("../../config/workflows/reusable/deploy-template.yml")),
    ("notify-template.yml", include_str!("../../config/workflows/reusable/notify-template.yml")),
    // Not called by the build workflow: the operator dispatches it on dependency-update pull requests.
    ("lockfile-update.yml", include_str!("../../config/workflows/reusable/lockfile-update.yml")),
];

/// Every file to install, `(path, contents)`: the build workflow at `workflow_path` with `commands` written into
/// it, the templates beside it.
pub fn files(workflow_path: &str, commands: &CommandsInEffect) -> Vec<(String, String)> {
    let mut files = vec![(workflow_path.to_owned(), build_workflow(commands))];
    files
        .extend(TEMPLATES.iter().map(|(name, contents)| (format!(".github/workflows/{name}"), (*contents).to_owned())));
    files
}

/// The build workflow with `commands` written into it: each command as its input's `default` (what a dispatch
/// from GitHub's page starts with) and as the fallback of the job that reads the input
/// (`${{ inputs.build_command || '<command>' }}`), which is what a `push` run uses. Without a command, the workflow
/// as shipped: an empty default and no fallback (the job then runs nothing). Commands are quoted for YAML and for
/// GitHub's expressions, so that no command can change the workflow's structure or run an expression.
pub fn build_workflow(commands: &CommandsInEffect) -> String {
    let slots = command_slots(commands);
    let mut rendered = String::with_capacity(BUILD_WORKFLOW.len() + 256);
    // The input whose block the walk is in, until its `default:` line.
    let mut in_input: Option<&str> = None;
    for line in BUILD_WORKFLOW.split_inclusive('\n') {
        let trimmed = line.trim();
        let indent = &line[..line.len() - line.trim_start().len()];
        if let Some((_, command)) = slots.iter().find(|(input, _)| trimmed.strip_suffix(':') == Some(*input)) {
            in_input = command.as_deref();
        } else if let (Some(command), true) = (in_input, trimmed.starts_with("default:")) {
            rendered.push_str(&format!("{indent}default: {}\n", yaml_quoted(&dispatch_default(Some(command)))));
            in_input = None;
            continue;
        } else if let Some((input, Some(command))) =
            slots.iter().find(|(input, _)| trimmed == format!("command: {}", job_command(input, None)))
        {
            rendered.push_str(&format!("{indent}command: {}\n", yaml_quoted(&job_command(input, Some(command)))));
            continue;
        }
        rendered.push_str(line);
    }
    rendered
}

/// Whether the build workflow `document` (parsed YAML) carries `commands` the way [`build_workflow`] writes them.
/// `None` when it does not declare both command inputs: a workflow of the repository's own making, whose commands
/// are its own business.
pub fn carries_commands(document: &serde_yaml::Value, commands: &CommandsInEffect) -> Option<bool> {
    Some(carries(&WrittenCommands::read(document)?, commands))
}

/// Whether what a workflow holds of the commands is what [`build_workflow`] writes for `commands`: as the defaults
/// of its command inputs, and in every job that reads one of them.
pub fn carries(written: &WrittenCommands, commands: &CommandsInEffect) -> bool {
    let slots = command_slots(commands);
    let wanted =
        |input: &str| slots.iter().find(|(name, _)| *name == input).and_then(|(_, command)| command.as_deref());
    let defaults_match = written
        .defaults
        .iter()
        .all(|(input, default)| default.as_deref() == Some(dispatch_default(wanted(input)).as_str()));
    let jobs_match = written.jobs.iter().all(|(input, value)| *value == job_command(input, wanted(input)));
    defaults_match && jobs_match
}

/// Each command input with its command, empty commands counted as none.
fn command_slots(commands: &CommandsInEffect) -> [(&'static str, Option<String>); 2] {
    let usable = |command: &Option<String>| command.clone().filter(|c| !c.trim().is_empty());
    [(BUILD_COMMAND_INPUT, usable(&commands.build_command)), (TEST_COMMAND_INPUT, usable(&commands.test_command))]
}

/// An input's `default` (before YAML quoting). GitHub allows no expression there, except a whole-value string
/// literal, which it reads as that string: a command holding `${{` is written as one.
fn dispatch_default(command: Option<&str>) -> String {
    match command {
        None => String::new(),
        Some(command) if command.contains("${{") => format!("${{{{ {} }}}}", expression_string(command)),
        Some(command) => command.to_owned(),
    }
}

/// What a job passes on as its command (before YAML quoting): the input, else the written command.
fn job_command(input: &str, command: Option<&str>) -> String {
    match command {
        None => format!("${{{{ inputs.{input} }}}}"),
        Some(command) => format!("${{{{ inputs.{input} || {} }}}}", expression_string(command)),
    }
}

/// A string literal of GitHub's expression language: single quotes, a quote doubled. GitHub's template reader
/// finds the `}}` that closes an expression outside string literals, so `}}` or `${{` inside one is plain text.
fn expression_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A YAML double-quoted scalar holding exactly `text`: backslash and quote escaped, and every character YAML does
/// not allow raw (line breaks, controls, byte-order mark) as an escape, so the value stays on its line.
fn yaml_quoted(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                quoted.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::detect::tests::describe_repository;

    fn commands(build: Option<&str>, test: Option<&str>) -> CommandsInEffect {
        CommandsInEffect { build_command: build.map(str::to_owned), test_command: test.map(str::to_owned) }
    }

    fn yaml(text: &str) -> serde_yaml::Value {
        serde_yaml::from_str(text).unwrap_or_else(|error| panic!("not YAML ({error}):\n{text}"))
    }

    fn input_default<'a>(document: &'a serde_yaml::Value, input: &str) -> &'a str {
        document["on"]["workflow_dispatch"]["inputs"][input]["default"].as_str().expect("a string default")
    }

    fn job_command_of<'a>(document: &'a serde_yaml::Value, job: &str) -> &'a str {
        document["jobs"][job]["with"]["command"].as_str().expect("a string command")
    }

    /// How GitHub's template reader splits a string into literal text and `${{ … }}` expressions: an expression
    /// ends at the first `}}` outside a single-quoted string literal (see actions/languageservices,
    /// `template-reader.ts`, `parseScalar`). Returns the segments, expressions with their `${{`/`}}`.
    fn template_segments(raw: &str) -> Vec<String> {
        let mut segments = Vec::new();
        let mut rest = raw;
        while let Some(start) = rest.find("${{") {
            if start > 0 {
                segments.push(rest[..start].to_owned());
            }
            let body = &rest[start + 3..];
            let (mut in_string, mut end) = (false, None);
            let chars: Vec<(usize, char)> = body.char_indices().collect();
            for (k, (at, c)) in chars.iter().enumerate() {
                if *c == '\'' {
                    in_string = !in_string;
                } else if !in_string && *c == '}' && k > 0 && chars[k - 1].1 == '}' {
                    end = Some(at + 1);
                    break;
                }
            }
            let end = end.expect("a closed expression");
            segments.push(rest[start..start + 3 + end].to_owned());
            rest = &body[end..];
        }
        if !rest.is_empty() {
            segments.push(rest.to_owned());
        }
        segments
    }

    /// The text of a string literal `'…'` of GitHub's expression language.
    fn string_literal(literal: &str) -> String {
        let inner = literal.strip_prefix('\'').and_then(|l| l.strip_suffix('\'')).expect("a quoted literal");
        assert!(!inner.replace("''", "").contains('\''), "a lone quote would end the literal: {literal}");
        inner.replace("''", "'")
    }

    #[test]
    fn the_installed_build_workflow_is_one_detection_dispatches() {
        let installed =
            files(".github/workflows/infinity-orchestrator.yml", &commands(Some("make"), Some("make test")));
        let as_files: Vec<(&str, &str)> = installed.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
        let description = describe_repository(&as_files, &[]);
        assert_eq!(description.build_workflow(), Some("infinity-orchestrator.yml"));
        let inputs = description.workflows.iter().find(|w| w.file == "infinity-orchestrator.yml").unwrap();
        assert_eq!(inputs.inputs, ["correlation_id", "build_command", "test_command"]);
    }

    #[test]
    fn without_commands_the_workflow_is_the_shipped_one() {
        assert_eq!(build_workflow(&commands(None, None)), BUILD_WORKFLOW);
        assert_eq!(build_workflow(&commands(Some(" "), Some(""))), BUILD_WORKFLOW, "empty commands count as none");
        assert_eq!(carries_commands(&yaml(BUILD_WORKFLOW), &commands(None, None)), Some(true));
    }

    #[test]
    fn the_commands_are_the_defaults_and_the_push_fallbacks() {
        let detected = commands(Some("npm ci && npm run build"), Some("npm test"));
        let rendered = build_workflow(&detected);
        let document = yaml(&rendered);
        assert_eq!(input_default(&document, "build_command"), "npm ci && npm run build");
        assert_eq!(input_default(&document, "test_command"), "npm test");
        assert_eq!(job_command_of(&document, "build"), "${{ inputs.build_command || 'npm ci && npm run build' }}");
        assert_eq!(job_command_of(&document, "test"), "${{ inputs.test_command || 'npm test' }}");
        assert_eq!(input_default(&document, "correlation_id"), "manual", "the rest as shipped");
        assert_eq!(carries_commands(&document, &detected), Some(true));
        assert_eq!(carries_commands(&document, &commands(Some("npm ci && npm run build"), None)), Some(false));
        assert_eq!(carries_commands(&yaml(BUILD_WORKFLOW), &detected), Some(false), "a workflow from before");
        let build_only = yaml(&build_workflow(&commands(Some("make"), None)));
        assert_eq!(job_command_of(&build_only, "test"), "${{ inputs.test_command }}");
        assert_eq!(input_default(&build_only, "test_command"), "");
    }

    #[test]
    fn a_workflow_without_the_command_inputs_is_not_judged() {
        let own = yaml("on:\n  workflow_dispatch:\n    inputs:\n      correlation_id: {}\njobs: {}\n");
        assert_eq!(carries_commands(&own, &commands(Some("make"), None)), None);
        assert_eq!(carries_commands(&yaml("on: push\n"), &commands(Some("make"), None)), None);
    }

    #[test]
    fn no_command_can_break_the_yaml_or_reach_an_expression() {
        let hostile = [
            "echo 'single' \"double\" \\ back",
            "echo ${{ secrets.GITHUB_TOKEN }} }} '${{' \"${{ github.token }}\"",
            "make\njobs:\n  evil:\n    runs-on: x",
            "make # not a comment: key: [value, {x}]",
            "  leading and trailing  ",
            "tab\there\r\u{7}bell \u{85}next \u{2028}line \u{feff}bom ünïcödé",
            "'",
            "}}",
            "x'; echo ${{ inputs.build_command }} || '",
        ];
        let shipped = yaml(BUILD_WORKFLOW);
        for command in hostile {
            let wanted = commands(Some(command), Some(command));
            let rendered = build_workflow(&wanted);
            let document = yaml(&rendered);
            // The structure is the shipped one: the same keys, jobs and inputs.
            let keys = |d: &serde_yaml::Value| d.as_mapping().unwrap().keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(&document), keys(&shipped), "{command:?}");
            assert_eq!(keys(&document["jobs"]), keys(&shipped["jobs"]), "{command:?}");
            assert_eq!(
                keys(&document["on"]["workflow_dispatch"]["inputs"]),
                keys(&shipped["on"]["workflow_dispatch"]["inputs"]),
                "{command:?}"
            );
            assert_eq!(rendered.lines().count(), BUILD_WORKFLOW.lines().count(), "{command:?}: one line each");
            assert_eq!(carries_commands(&document, &wanted), Some(true), "{command:?}");
            for (input, job) in [("build_command", "build"), ("test_command", "test")] {
                // The job's value is one expression: the input, else the command as one string literal.
                let value = job_command_of(&document, job);
                let segments = template_segments(value);
                assert_eq!(segments, [value], "{command:?}: one expression, no text around it");
                let expression = value.strip_prefix("${{ ").and_then(|v| v.strip_suffix(" }}")).unwrap();
                let literal = expression.strip_prefix(&format!("inputs.{input} || ")).expect("the input first");
                assert_eq!(string_literal(literal), command, "{command:?}");
                // The default is the command itself, or one literal expression that GitHub reads as it.
                let default = input_default(&document, input);
                if command.contains("${{") {
                    assert_eq!(template_segments(default), [default], "{command:?}");
                    let inner = default.strip_prefix("${{ ").and_then(|v| v.strip_suffix(" }}")).unwrap();
                    assert_eq!(string_literal(inner), command, "{command:?}");
                } else {
                    assert_eq!(default, command);
                }
            }
        }
    }

    #[test]
    fn the_lockfile_workflow_is_installed_where_healing_dispatches_it_with_the_inputs_it_sends() {
        let (_, text) = files(".github/workflows/infinity-orchestrator.yml", &CommandsInEffect::default())
            .into_iter()
            .find(|(path, _)| path == crate::plan::heal::lockfile::WORKFLOW_PATH)
            .expect("installed");
        let workflow: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
        let inputs = &workflow["on"]["workflow_dispatch"]["inputs"];
        let update =
            crate::plan::heal::lockfile::LockfileUpdate::new("a/package.json", "a/yarn.lock", "x", "1").unwrap();
        for name in update.inputs().keys() {
            assert!(inputs.get(name.as_str()).is_some(), "{name} is sent but not declared");
        }
        assert_eq!(inputs["ecosystem"]["required"].as_bool(), Some(true));
        assert!(workflow["on"].get("workflow_call").is_some(), "reusable too");
        assert_eq!(workflow["permissions"]["contents"].as_str(), Some("write"));
        // A push with GITHUB_TOKEN starts no check on the pull request: a configured token pushes instead, and no
        // token stays in the checkout while the package tools run.
        let steps = workflow["jobs"]["lockfile"]["steps"].as_sequence().expect("steps");
        let checkout =
            steps.iter().find(|step| step["uses"].as_str() == Some("actions/checkout@v4")).expect("checkout");
        assert_eq!(checkout["with"]["persist-credentials"].as_bool(), Some(false));
        let commit = steps.iter().find(|step| step["name"].as_str() == Some("Commit the lockfile")).expect("commit");
        let push_token = commit["env"]["PUSH_TOKEN"].as_str().unwrap_or_default();
        assert_eq!(push_token, "${{ secrets.INFINITY_ORCHESTRATOR_PUSH_TOKEN || github.token }}");
        assert!(commit["run"].as_str().unwrap_or_default().contains("x-access-token:${PUSH_TOKEN}@"));
        for tool in [
            "npm install --package-lock-only",
            "pnpm install --lockfile-only",
            "cargo update -p",
            "go mod tidy",
            "poetry lock",
        ] {
            assert!(text.contains(tool), "{tool}");
        }
    }

    #[test]
    fn every_template_the_workflow_calls_is_installed() {
        for line in BUILD_WORKFLOW.lines().filter_map(|l| l.trim().strip_prefix("uses: ./.github/workflows/")) {
            assert!(TEMPLATES.iter().any(|(name, _)| *name == line), "{line} is called but not installed");
        }
        assert!(BUILD_WORKFLOW.contains("uses: ./.github/workflows/build-template.yml"), "the check saw the calls");
    }
}
