//! Raising one dependency's version requirement in a manifest by a minimal text edit: the bytes of the requirement
//! are replaced and every other byte of the file stays as it was (comments, order, indentation, line endings). No
//! manifest is parsed into a tree and written back, because re-serializing would reformat the file.

use std::ops::Range;

use crate::plan::detect::Ecosystem;

/// Why a manifest could not be edited.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestEditError {
    /// The file is not a Cargo.toml, package.json, requirements.txt or go.mod.
    #[error("{path} is not a manifest the operator edits")]
    UnsupportedManifest {
        /// The manifest's path.
        path: String,
    },
    /// The patched version has characters a version never has; refusing keeps the edit from injecting text.
    #[error("{version:?} is not a plain version")]
    InvalidVersion {
        /// The version given.
        version: String,
    },
    /// The dependency is not declared with a version in the manifest.
    #[error("{package} is not declared with a version in the manifest")]
    DependencyNotFound {
        /// The package looked for.
        package: String,
    },
    /// The requirement is not a version the operator knows how to raise (a path, git URL, tag, `*`).
    #[error("{package}'s requirement {requirement:?} is not a plain version")]
    UnsupportedRequirement {
        /// The package.
        package: String,
        /// The requirement found.
        requirement: String,
    },
    /// Every declaration already names the patched version.
    #[error("{package} already requires {version}")]
    AlreadyUpdated {
        /// The package.
        package: String,
        /// The patched version.
        version: String,
    },
}

/// The manifest formats the operator edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    /// `Cargo.toml`.
    Cargo,
    /// `package.json`.
    Npm,
    /// `requirements.txt` (and `requirements-*.txt`).
    Pip,
    /// `go.mod`.
    GoMod,
}

impl ManifestKind {
    /// The kind of the manifest at `path`, by its file name.
    pub fn of_path(path: &str) -> Option<Self> {
        let file = path.rsplit('/').next().unwrap_or(path);
        match file {
            "Cargo.toml" => Some(ManifestKind::Cargo),
            "package.json" => Some(ManifestKind::Npm),
            "go.mod" => Some(ManifestKind::GoMod),
            _ if file.starts_with("requirements") && file.ends_with(".txt") => Some(ManifestKind::Pip),
            _ => None,
        }
    }
}

/// The manifest to edit for a Dependabot alert that names `alert_path`: the path itself when it is a manifest the
/// operator edits, the manifest beside it when it is that manifest's lockfile (Dependabot often names the lockfile:
/// `Cargo.lock`, `package-lock.json`, `yarn.lock`, `pnpm-lock.yaml`, `npm-shrinkwrap.json`, `go.sum`), else `None`.
pub fn editable_manifest(alert_path: &str) -> Option<String> {
    if ManifestKind::of_path(alert_path).is_some() {
        return Some(alert_path.to_owned());
    }
    let (directory, file) = match alert_path.rsplit_once('/') {
        Some((directory, file)) => (format!("{directory}/"), file),
        None => (String::new(), alert_path),
    };
    let manifest = match file {
        "Cargo.lock" => "Cargo.toml",
        "package-lock.json" | "npm-shrinkwrap.json" | "yarn.lock" | "pnpm-lock.yaml" => "package.json",
        "go.sum" => "go.mod",
        _ => return None,
    };
    Some(format!("{directory}{manifest}"))
}

/// `content` with every version requirement of `package` raised to `version` (a package declared in two sections,
/// such as dependencies and dev-dependencies, is raised in both). Everything else is kept byte for byte.
pub fn raise_dependency(path: &str, content: &str, package: &str, version: &str) -> Result<String, ManifestEditError> {
    let kind =
        ManifestKind::of_path(path).ok_or_else(|| ManifestEditError::UnsupportedManifest { path: path.to_owned() })?;
    let version = version.trim_start_matches('v');
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')) {
        return Err(ManifestEditError::InvalidVersion { version: version.to_owned() });
    }
    let spans = match kind {
        ManifestKind::Cargo => cargo_spans(content, package),
        ManifestKind::Npm => npm_spans(content, package),
        ManifestKind::Pip => pip_spans(content, package),
        ManifestKind::GoMod => go_spans(content, package),
    };
    if spans.is_empty() {
        return Err(ManifestEditError::DependencyNotFound { package: package.to_owned() });
    }
    let mut edited = content.to_owned();
    let mut changed = false;
    // From the back, so earlier ranges stay valid.
    for span in spans.iter().rev() {
        let old = &content[span.clone()];
        let new = rewrite(kind, old, version).ok_or_else(|| ManifestEditError::UnsupportedRequirement {
            package: package.to_owned(),
            requirement: old.to_owned(),
        })?;
        changed |= new != old;
        edited.replace_range(span.clone(), &new);
    }
    if !changed {
        return Err(ManifestEditError::AlreadyUpdated { package: package.to_owned(), version: version.to_owned() });
    }
    Ok(edited)
}

/// Characters that make up a comparison operator in front of a version.
const OPERATOR_CHARS: [char; 6] = ['^', '~', '=', '>', '<', '!'];

/// The new requirement text for `old`, keeping its operator where one comparator stands alone; `None` when `old`
/// is not a version requirement (a URL, tag, `*`, `latest`).
fn rewrite(kind: ManifestKind, old: &str, version: &str) -> Option<String> {
    let trimmed = old.trim();
    if kind == ManifestKind::GoMod {
        return (trimmed.len() > 1 && trimmed.starts_with('v')).then(|| format!("v{version}"));
    }
    if trimmed.is_empty() {
        // Only a requirements file may name a package without a version; the requirement is added.
        return (kind == ManifestKind::Pip).then(|| format!(">={version}"));
    }
    // pip allows spaces after an operator (`>= 2.19`); npm separates comparators with spaces.
    let separators: &[char] = if kind == ManifestKind::Pip { &[','] } else { &[',', ' ', '|', '\t'] };
    let clauses: Vec<&str> = trimmed.split(separators).filter(|c| !c.is_empty()).collect();
    let is_version = |clause: &&str| {
        clause.trim_start_matches(OPERATOR_CHARS).trim_start().starts_with(|c: char| c.is_ascii_digit())
    };
    if !clauses.iter().all(is_version) {
        return None;
    }
    let operator = &trimmed[..trimmed.len() - trimmed.trim_start_matches(OPERATOR_CHARS).len()];
    let keeps_operator = clauses.len() == 1 && matches!(operator, "" | "^" | "~" | "=" | ">=" | "==" | "~=" | "===");
    Some(match kind {
        ManifestKind::Pip if keeps_operator && !operator.is_empty() => format!("{operator}{version}"),
        ManifestKind::Pip => format!(">={version}"),
        _ if keeps_operator => format!("{operator}{version}"),
        ManifestKind::Npm => format!("^{version}"),
        _ => version.to_owned(),
    })
}

/// The ranges of the quoted requirement strings (without quotes) of `package` in a Cargo.toml.
fn cargo_spans(content: &str, package: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut section = String::new();
    let mut offset = 0;
    for line in content.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with('[') {
            // A header may carry a trailing comment: `[dependencies] # runtime`.
            let header = trimmed.split('#').next().unwrap_or(trimmed).trim_end();
            section = header.trim_matches(['[', ']']).replace(['"', '\'', ' '], "");
            continue;
        }
        let Some((key, value_at)) = toml_key(trimmed) else { continue };
        let value_start = start + indent + value_at;
        let in_dependencies = section.ends_with("dependencies");
        let in_package_table = section.ends_with(&format!("dependencies.{package}"));
        if in_dependencies && key == package {
            let value = &content[value_start..offset];
            if value.starts_with(['"', '\'']) {
                spans.extend(quoted(value).map(|r| value_start + r.start..value_start + r.end));
            } else if value.starts_with('{') {
                spans.extend(inline_table_version(value).map(|r| value_start + r.start..value_start + r.end));
            }
        } else if in_package_table && key == "version" {
            spans.extend(quoted(&content[value_start..offset]).map(|r| value_start + r.start..value_start + r.end));
        }
    }
    spans
}

/// A TOML `key = value` line's key (unquoted) and the offset of its value.
fn toml_key(line: &str) -> Option<(&str, usize)> {
    let equals = line.find('=')?;
    let key = line[..equals].trim().trim_matches(['"', '\'']);
    let after = &line[equals + 1..];
    let value_at = equals + 1 + (after.len() - after.trim_start().len());
    Some((key, value_at))
}

/// The range inside the quotes of the string `text` starts with.
fn quoted(text: &str) -> Option<Range<usize>> {
    let quote = text.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            '\n' => return None,
            '\\' if quote == '"' && !escaped => escaped = true,
            c if c == quote && !escaped => return Some(1..i),
            _ => escaped = false,
        }
    }
    None
}

/// The range of the `version` string of the inline table `text` starts with, at the table's own level.
fn inline_table_version(text: &str) -> Option<Range<usize>> {
    let mut depth = 0usize;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => i += quoted(&text[i..]).map_or(1, |r| r.end + 1),
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return None;
                }
                i += 1;
            }
            b'\n' | b'#' => return None,
            _ if depth == 1 && bytes[i..].starts_with(b"version") && !is_key_char(bytes[i.saturating_sub(1)]) => {
                let (key, value_at) = toml_key(&text[i..])?;
                if key == "version" && !text[i + value_at..].is_empty() {
                    let value = &text[i + value_at..];
                    return quoted(value).map(|r| i + value_at + r.start..i + value_at + r.end);
                }
                i += "version".len();
            }
            _ => i += 1,
        }
    }
    None
}

fn is_key_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-')
}

/// The ranges of `package`'s version strings in the dependency sections of a package.json.
fn npm_spans(content: &str, package: &str) -> Vec<Range<usize>> {
    const SECTIONS: [&str; 4] = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"];
    let mut spans = Vec::new();
    let mut json = JsonScanner { text: content.as_bytes(), at: 0 };
    json.skip_space();
    // Top level object: key → value; in a dependency section, key → string.
    if !json.eat(b'{') {
        return spans;
    }
    while let Some(key) = json.next_key() {
        let section = &content[key];
        json.skip_space();
        if SECTIONS.contains(&section) && json.peek() == Some(b'{') {
            json.eat(b'{');
            while let Some(name) = json.next_key() {
                let is_target = &content[name] == package;
                match json.string() {
                    Some(value) if is_target => spans.push(value),
                    Some(_) => {}
                    None => return spans,
                }
            }
        } else if !json.skip_value() {
            return spans;
        }
    }
    spans
}

/// Just enough JSON to walk a package.json: strings, and skipping any value.
struct JsonScanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl JsonScanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace() || b == b',') {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// The range inside the quotes of the string at the cursor.
    fn string(&mut self) -> Option<Range<usize>> {
        self.skip_space();
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.at + 1;
        let mut i = start;
        while i < self.text.len() {
            match self.text[i] {
                b'\\' => i += 2,
                b'"' => {
                    self.at = i + 1;
                    return Some(start..i);
                }
                _ => i += 1,
            }
        }
        None
    }

    /// The next key of the object the cursor is in, past its colon; `None` at the object's end or on bad input.
    fn next_key(&mut self) -> Option<Range<usize>> {
        if self.eat(b'}') {
            return None;
        }
        let key = self.string()?;
        self.eat(b':').then_some(key)
    }

    fn skip_value(&mut self) -> bool {
        self.skip_space();
        match self.peek() {
            Some(b'"') => self.string().is_some(),
            Some(b'{') | Some(b'[') => {
                let mut depth = 0usize;
                while let Some(byte) = self.peek() {
                    match byte {
                        b'"' => {
                            if self.string().is_none() {
                                return false;
                            }
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return true;
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
                false
            }
            Some(_) => {
                while self.peek().is_some_and(|b| !matches!(b, b',' | b'}' | b']')) {
                    self.at += 1;
                }
                true
            }
            None => false,
        }
    }
}

/// The ranges of `package`'s version specifiers in a requirements file (before any `;` marker or `#` comment).
fn pip_spans(content: &str, package: &str) -> Vec<Range<usize>> {
    let wanted = Ecosystem::Python.normalize(package);
    let mut spans = Vec::new();
    let mut offset = 0;
    for line in content.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let name_len =
            line.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(line.len());
        if name_len == 0 || Ecosystem::Python.normalize(&line[..name_len]) != wanted {
            continue;
        }
        let mut spec_start = name_len;
        let rest = &line[name_len..];
        let after_space = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if rest[after_space..].starts_with('[') {
            match rest.find(']') {
                Some(close) => spec_start += close + 1,
                None => continue,
            }
        }
        let tail = &line[spec_start..];
        let end = tail.find([';', '#', '\r', '\n']).unwrap_or(tail.len());
        let spec = &tail[..end];
        let lead = spec.len() - spec.trim_start().len();
        let spec_len = spec.trim().len();
        // An unpinned name gets its requirement right after the name (and extras).
        let at = if spec_len == 0 { start + spec_start } else { start + spec_start + lead };
        spans.push(at..at + spec_len);
    }
    spans
}

/// The ranges of `module`'s version in a go.mod's `require` lines and blocks.
fn go_spans(content: &str, module: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut in_require_block = false;
    let mut offset = 0;
    for line in content.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let code = line.split("//").next().unwrap_or(line);
        let trimmed = code.trim();
        if in_require_block {
            if trimmed == ")" {
                in_require_block = false;
                continue;
            }
        } else if trimmed == "require (" {
            in_require_block = true;
            continue;
        } else if !trimmed.starts_with("require ") {
            continue;
        }
        let mut words = trimmed.trim_start_matches("require ").split_whitespace();
        if let (Some(path), Some(version)) = (words.next(), words.next()) {
            if path == module {
                // `version` is a subslice of `line`, so its offset is found by pointer distance.
                let at = version.as_ptr() as usize - line.as_ptr() as usize;
                spans.push(start + at..start + at + version.len());
            }
        }
    }
    spans
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
