//! The file changes that revert one commit on top of the default branch's head, without a merge engine: each path
//! the commit changed goes back to its parent's content, and a path some later commit changed again is a conflict
//! for a person to resolve (the rollback is then withheld, not forced).

/// One path the commit to revert changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedPath {
    /// Path from the repository root.
    pub path: String,
    /// Its content at the commit's parent; `None` when the commit added it.
    pub before: Option<String>,
    /// Its content at the commit; `None` when the commit deleted it.
    pub after: Option<String>,
    /// Its content at the head of the default branch now.
    pub head: Option<String>,
}

/// A file of the revert: its new content, or `None` to delete it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevertedFile {
    /// Path from the repository root.
    pub path: String,
    /// Content after the revert; `None` deletes the file.
    pub content: Option<String>,
}

/// Why a commit cannot be reverted by file contents alone.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RevertError {
    /// A later commit changed a path the commit changed too.
    #[error("{path} changed again after the commit; reverting it needs a person")]
    Conflict {
        /// The path.
        path: String,
    },
    /// The commit changed no file (or every change is already undone).
    #[error("nothing to revert")]
    Empty,
}

/// The revert of the commit whose changes are `changes`, applied on the head.
pub fn revert(changes: &[ChangedPath]) -> Result<Vec<RevertedFile>, RevertError> {
    let mut files = Vec::new();
    for change in changes {
        if change.head == change.before {
            continue; // Already back as it was.
        }
        if change.head != change.after {
            return Err(RevertError::Conflict { path: change.path.clone() });
        }
        files.push(RevertedFile { path: change.path.clone(), content: change.before.clone() });
    }
    if files.is_empty() {
        return Err(RevertError::Empty);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, before: Option<&str>, after: Option<&str>, head: Option<&str>) -> ChangedPath {
        let own = |text: Option<&str>| text.map(str::to_owned);
        ChangedPath { path: path.into(), before: own(before), after: own(after), head: own(head) }
    }

    #[test]
    fn restores_modified_deleted_and_added_paths() {
        let files = revert(&[
            change("a", Some("1"), Some("2"), Some("2")),
            change("gone", Some("x"), None, None),
            change("new", None, Some("y"), Some("y")),
            change("undone", Some("u"), Some("v"), Some("u")),
        ])
        .unwrap();
        let expected = [("a", Some("1")), ("gone", Some("x")), ("new", None)];
        let got: Vec<(&str, Option<&str>)> = files.iter().map(|f| (f.path.as_str(), f.content.as_deref())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_later_change_is_a_conflict_and_nothing_left_is_empty() {
        assert_eq!(
            revert(&[change("a", Some("1"), Some("2"), Some("3"))]),
            Err(RevertError::Conflict { path: "a".into() })
        );
        assert_eq!(revert(&[change("a", Some("1"), Some("2"), Some("1"))]), Err(RevertError::Empty));
        assert_eq!(revert(&[]), Err(RevertError::Empty));
    }
}
