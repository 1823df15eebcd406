//! Tests of detection on real-world manifest shapes. Each test goes through both steps the controller takes:
//! `manifests_to_fetch` on the tree, then `describe` on only the files it chose.

mod cargo;
mod commands;
mod fetch;
mod files;
mod go;
mod gradle;
mod malformed;
mod maven;
mod node;
mod properties;
mod python;
mod workflows;

use std::collections::BTreeMap;

use super::{describe, manifests_to_fetch, BuildSystem, Ecosystem, RepositoryDescription};

/// Describes a repository made of `files` (path, contents) plus `other_paths` (in the tree, never fetched).
pub(crate) fn describe_repository(files: &[(&str, &str)], other_paths: &[&str]) -> RepositoryDescription {
    describe_with_language(files, other_paths, None)
}

/// As [`describe_repository`], with GitHub's language.
pub(super) fn describe_with_language(
    files: &[(&str, &str)],
    other_paths: &[&str],
    github_language: Option<&str>,
) -> RepositoryDescription {
    let tree: Vec<String> =
        files.iter().map(|(path, _)| *path).chain(other_paths.iter().copied()).map(String::from).collect();
    let wanted = manifests_to_fetch(&tree);
    let fetched: BTreeMap<String, String> = files
        .iter()
        .filter(|(path, _)| wanted.iter().any(|w| w == path))
        .map(|(path, text)| (path.to_string(), text.to_string()))
        .collect();
    describe(&tree, &fetched, github_language)
}

/// `(name, file, published)` of produced packages of one ecosystem.
pub(super) fn produced(description: &RepositoryDescription, ecosystem: Ecosystem) -> Vec<(String, String, bool)> {
    description
        .produces
        .iter()
        .filter(|p| p.ecosystem == ecosystem)
        .map(|p| (p.name.clone(), p.file.clone(), p.published))
        .collect()
}

/// `(name, declared, file)` of consumed dependencies of one ecosystem.
pub(super) fn consumed(description: &RepositoryDescription, ecosystem: Ecosystem) -> Vec<(String, String, String)> {
    description
        .consumes
        .iter()
        .filter(|d| d.ecosystem == ecosystem)
        .map(|d| (d.name.clone(), d.declared.clone(), d.file.clone()))
        .collect()
}

/// Consumed names of one ecosystem, sorted and deduplicated.
pub(super) fn consumed_names(description: &RepositoryDescription, ecosystem: Ecosystem) -> Vec<String> {
    let mut names: Vec<String> = consumed(description, ecosystem).into_iter().map(|(name, _, _)| name).collect();
    names.dedup();
    names
}

/// The GitHub repository a consumed dependency points at.
pub(super) fn github_of(description: &RepositoryDescription, name: &str) -> Option<(String, String)> {
    description.consumes.iter().find(|d| d.name == name).and_then(|d| d.github.clone())
}

/// Owned strings, for comparisons.
pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
