//! A root Makefile: its target names, read from rule lines (never run). Recipes, variable assignments,
//! conditionals and `define` blocks are skipped; targets computed by variables (`$(BIN):`) or patterns (`%.o:`) are
//! not names a command could call.

use super::description::RepositoryDescription;
use super::files::RepositoryFiles;

const MAKEFILES: &[&str] = &["GNUmakefile", "makefile", "Makefile"];

/// Whether a path is a Makefile worth fetching: only at the root, in the order GNU make looks for them.
pub(super) fn wants(path: &str) -> bool {
    MAKEFILES.contains(&path)
}

/// The targets of the root Makefile, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Makefile {
    /// Target names, in the order they appear; special targets (`.PHONY`) excluded.
    pub targets: Vec<String>,
}

impl Makefile {
    /// Whether a rule defines this target.
    pub fn has_target(&self, name: &str) -> bool {
        self.targets.iter().any(|target| target == name)
    }

    /// The target `make` builds without arguments: the first one.
    pub fn default_goal(&self) -> Option<&str> {
        self.targets.first().map(String::as_str)
    }
}

/// The root Makefile's targets. `None` without one; no targets when it was not fetched.
pub(super) fn detect(files: &RepositoryFiles<'_>, _out: &mut RepositoryDescription) -> Option<Makefile> {
    let path = MAKEFILES.iter().find(|path| files.exists(path))?;
    Some(files.content(path).map(parse_makefile).unwrap_or_default())
}

/// Reads target names from rule lines.
pub(crate) fn parse_makefile(text: &str) -> Makefile {
    let mut targets: Vec<String> = Vec::new();
    let mut in_define = false;
    for line in text.lines() {
        if line.starts_with('\t') {
            continue;
        }
        let line = line.split('#').next().unwrap_or_default().trim_end();
        let first_word = line.split_whitespace().next().unwrap_or_default();
        if in_define {
            in_define = first_word != "endef";
            continue;
        }
        if matches!(first_word, "define" | "override" | "export" | "ifeq" | "ifneq" | "ifdef" | "ifndef" | "include") {
            in_define = first_word == "define";
            continue;
        }
        let Some(colon) = line.find(':') else { continue };
        let (names, rest) = line.split_at(colon);
        // `X := y`, `X ::= y`, `X = a:b` are assignments, not rules.
        if rest.starts_with(":=") || rest.starts_with("::=") || names.contains(['=', '$', '%']) {
            continue;
        }
        for name in names.split_whitespace() {
            if !name.starts_with('.') && !targets.iter().any(|target| target == name) {
                targets.push(name.to_owned());
            }
        }
    }
    Makefile { targets }
}

/// The language a Makefile-only repository is written in, from its source files' extensions: `cpp` when any C++
/// source exists, else `c` when any C source does.
pub(super) fn source_language(files: &RepositoryFiles<'_>) -> Option<&'static str> {
    if files.any_file_ending(&[".cpp", ".cc", ".cxx", ".hpp", ".hh"], 6) {
        Some("cpp")
    } else if files.any_file_ending(&[".c"], 6) {
        Some("c")
    } else {
        None
    }
}
