//! Dockerfile-only repositories: a root `Dockerfile` (or `Containerfile`) builds with `docker build`.

use super::files::RepositoryFiles;
use super::{BuildSystem, Toolchain};

/// `None` without a root `Dockerfile` or `Containerfile`. Nothing is fetched: the name is enough.
pub(super) fn detect(files: &RepositoryFiles<'_>) -> Option<Toolchain> {
    let build = if files.exists("Dockerfile") {
        "docker build ."
    } else if files.exists("Containerfile") {
        "docker build -f Containerfile ."
    } else {
        return None;
    };
    Some(Toolchain {
        language: "docker".to_owned(),
        build_systems: vec![BuildSystem::Docker],
        build: Some(build.to_owned()),
        test: None,
        substantive: true,
    })
}
