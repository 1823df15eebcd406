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
    start_fixture(&fixture, &format!("{tag}-{size}"), 0)
}

/// Starts the release build of `github-sim` serving `fixture`, its clock moving `speed` simulated seconds a second
/// (0: stopped). Returns it and its URL.
pub fn start_fixture(fixture: &Fixture, tag: &str, speed: u64) -> (Killed, String) {
    let path = std::env::temp_dir().join(format!("io-bench-{tag}.yaml"));
    std::fs::write(&path, serde_yaml::to_string(fixture).expect("fixture YAML")).expect("writing the fixture");
    let binary = concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/github-sim");
    let speed = speed.to_string();
    let mut child = Command::new(binary)
        .args(["--fixture", path.to_str().expect("utf-8 path"), "--addr", "127.0.0.1:0", "--speed", &speed])
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

/// One request to the simulator's control endpoints, in plain HTTP/1.1 (no client dependency); the answer's body.
pub fn sim_call(base_url: &str, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let address = base_url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connecting to the simulator");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("writing");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("reading");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, mut rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return rest.to_owned();
    }
    let mut body = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || tail.len() < size {
            break;
        }
        body.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    body
}

/// The local control plane's kubeconfig (`IO_CP_DIR`, else the default of `scripts/control-plane.sh`) and a client
/// of it.
pub async fn control_plane() -> (std::path::PathBuf, kube::Client) {
    let state = std::env::var("IO_CP_DIR").unwrap_or_else(|_| "/tmp/infinity-orchestrator-cp".into());
    let kubeconfig = std::path::PathBuf::from(state).join("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig)
            .expect("the control plane's kubeconfig (scripts/control-plane.sh up)"),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("kubeconfig");
    (kubeconfig, kube::Client::try_from(config).expect("client"))
}

/// A whole-number setting from the environment variable `variable`, else `default`.
pub fn setting<T: std::str::FromStr>(variable: &str, default: T) -> T {
    std::env::var(variable).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// What the Python `script` prints from github-sim's request log (a JSON list on its standard input).
pub fn summarize_sim_log(base_url: &str, script: &str) -> String {
    let curl = Command::new("curl").args(["-fsS", &format!("{base_url}/_sim/requests")]).stdout(Stdio::piped()).spawn();
    let mut curl = curl.expect("curl");
    let out = Command::new("python3")
        .args(["-c", script])
        .stdin(curl.stdout.take().expect("curl's stdout"))
        .output()
        .expect("python3");
    let _ = curl.wait();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
