//! Go modules: every `go.mod` outside `vendor/`, `testdata/` and other ignored directories is a module the
//! repository produces; its direct `require`s (block and single-line) and the module targets of its `replace`
//! directives are what it consumes. `// indirect` requirements are left out: the manifest's author did not
//! declare them, a direct dependency did.

use super::description::{Ecosystem, RepositoryDescription};
use super::files::{file_name, github_repository, RepositoryFiles};
use super::{BuildSystem, Toolchain};

const MANIFEST: &str = "go.mod";

/// Whether a path is a Go manifest worth fetching.
pub(super) fn wants(path: &str) -> bool {
    file_name(path) == MANIFEST
}

/// What a `go.mod` declares.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct GoModule {
    /// The `module` path.
    pub path: Option<String>,
    /// Direct requirements: module paths.
    pub requires: Vec<String>,
    /// `replace` targets that are modules (not local directories).
    pub replacements: Vec<String>,
}

/// Reads every fetched `go.mod`. The toolchain needs one at the root, or a `go.work` there.
pub(super) fn detect(files: &RepositoryFiles<'_>, out: &mut RepositoryDescription) -> Option<Toolchain> {
    for path in files.fetched_named(MANIFEST) {
        let Some(text) = files.content(path) else { continue };
        let module = parse_go_mod(text);
        match &module.path {
            Some(module_path) => out.produce(Ecosystem::Go, module_path, path, true),
            None => out.warn(path, "no `module` directive"),
        }
        for required in module.requires.iter().chain(&module.replacements) {
            out.consume_from(Ecosystem::Go, required, required, path, module_repository(required));
        }
    }
    (files.exists(MANIFEST) || files.exists("go.work")).then(|| Toolchain {
        language: "go".to_owned(),
        build_systems: vec![BuildSystem::Go],
        build: Some("go build ./...".to_owned()),
        test: Some("go test ./...".to_owned()),
        substantive: true,
    })
}

/// The GitHub repository a module path lives in: `github.com/o/r/v2/sub` → `(o, r)`.
fn module_repository(module: &str) -> Option<(String, String)> {
    let rest = module.strip_prefix("github.com/")?;
    github_repository(&format!("github:{rest}"))
}

/// Parses `go.mod` line by line, as `go mod edit -json` would see it: directives alone on a line or in a
/// parenthesized block, `//` comments. Lines that do not fit are skipped; parsing never fails.
pub(crate) fn parse_go_mod(text: &str) -> GoModule {
    let mut module = GoModule::default();
    let mut block: Option<String> = None;
    for raw_line in text.lines() {
        let (line, comment) = raw_line.split_once("//").unwrap_or((raw_line, ""));
        let line = line.trim();
        let indirect = comment.trim_start().starts_with("indirect");
        if line.is_empty() {
            continue;
        }
        if let Some(directive) = &block {
            if line == ")" {
                block = None;
            } else {
                let directive = directive.clone();
                read_directive(&mut module, &directive, line, indirect);
            }
            continue;
        }
        let (directive, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        if rest == "(" {
            block = Some(directive.to_owned());
        } else {
            read_directive(&mut module, directive, rest, indirect);
        }
    }
    module
}

fn read_directive(module: &mut GoModule, directive: &str, arguments: &str, indirect: bool) {
    let mut words = arguments.split_whitespace().map(unquote);
    match directive {
        "module" => module.path = words.next().filter(|path| !path.is_empty()).map(str::to_owned),
        "require" if !indirect => module.requires.extend(words.next().map(str::to_owned)),
        "replace" => {
            let target = arguments.split_once("=>").map(|(_, target)| target.trim());
            let target_module = target.and_then(|target| target.split_whitespace().next()).map(unquote);
            if let Some(target_module) = target_module {
                let local = target_module.starts_with(['.', '/']) || target_module.is_empty();
                if !local {
                    module.replacements.push(target_module.to_owned());
                }
            }
        }
        _ => {}
    }
}

fn unquote(word: &str) -> &str {
    word.trim_matches(|c| c == '"' || c == '`')
}
