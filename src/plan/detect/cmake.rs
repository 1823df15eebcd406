//! CMake: a root `CMakeLists.txt` configures into `build/`; `ctest` runs when it enables testing.

use super::description::RepositoryDescription;
use super::files::RepositoryFiles;
use super::{BuildSystem, Toolchain};

const MANIFEST: &str = "CMakeLists.txt";

/// Whether a path is the CMake manifest worth fetching: only the root one.
pub(super) fn wants(path: &str) -> bool {
    path == MANIFEST
}

/// `None` without a root `CMakeLists.txt`. The test command needs the file's contents to show `enable_testing()`,
/// `include(CTest)`, `add_test(` or `gtest_discover_tests(`.
pub(super) fn detect(files: &RepositoryFiles<'_>, _out: &mut RepositoryDescription) -> Option<Toolchain> {
    if !files.exists(MANIFEST) {
        return None;
    }
    let text = files.content(MANIFEST).unwrap_or_default().to_ascii_lowercase();
    let testing = ["enable_testing(", "include(ctest)", "add_test(", "gtest_discover_tests("]
        .iter()
        .any(|call| text.replace(' ', "").contains(call));
    Some(Toolchain {
        language: language(files, &text).to_owned(),
        build_systems: vec![BuildSystem::Cmake],
        build: Some("cmake -B build && cmake --build build".to_owned()),
        test: testing.then(|| "ctest --test-dir build".to_owned()),
        substantive: true,
    })
}

/// `project(… LANGUAGES C)` or `project(name C)` says C; CXX, or C++ sources, say C++; C++ otherwise, CMake's
/// default being both.
fn language(files: &RepositoryFiles<'_>, lowercase_text: &str) -> &'static str {
    let project = lowercase_text.find("project(").map(|at| &lowercase_text[at..]);
    let arguments = project.and_then(|p| p.split(')').next()).unwrap_or_default();
    let words: Vec<&str> = arguments.split_whitespace().collect();
    if words.contains(&"cxx") {
        "cpp"
    } else if words.contains(&"c")
        || (!files.any_file_ending(&[".cpp", ".cc", ".cxx"], 6) && files.any_file_ending(&[".c"], 6))
    {
        "c"
    } else {
        "cpp"
    }
}
