//! What the benchmarks that need GitHub share: a github-sim process serving a generated organization, and the
//! peak RSS of a process.

#![allow(dead_code)] // each benchmark uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use github_sim::Fixture;

/// A child process killed (and reaped) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the release build of `github-sim` serving a generated organization `acme` of `size` repositories, with a
/// budget that does not run out (points are counted, not waited for), its clock stopped. Returns it and its URL.
pub fn start_simulator(size: usize, tag: &str) -> (Killed, String) {
    let mut fixture = Fixture::generated_org("acme", size);
    fixture.rate_limit = Some(10_000_000);
    fixture.graphql_rate_limit = Some(10_000_000);
    let path = std::env::temp_dir().join(format!("io-bench-{tag}-{size}.yaml"));
    std::fs::write(&path, serde_yaml::to_string(&fixture).expect("fixture YAML")).expect("writing the fixture");
    let binary = concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/github-sim");
    let mut child = Command::new(binary)
        .args(["--fixture", path.to_str().expect("utf-8 path"), "--addr", "127.0.0.1:0", "--speed", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{binary}: {e} (cargo build --release -p github-sim)"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the simulator's address");
    let url = line.trim().rsplit(' ').next().expect("an address").to_owned();
    (Killed(child), url)
}

/// The operator binary measured: the release build, or `IO_BENCH_OPERATOR` (to compare two builds).
pub fn operator_binary() -> String {
    std::env::var("IO_BENCH_OPERATOR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/infinity-orchestrator").to_owned())
}

/// Peak resident set (`VmHWM`) in MiB of the process whose `/proc` entry is `proc` (`self` or a pid).
pub fn peak_rss_mb(proc: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{proc}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}
