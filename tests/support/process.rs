//! The operator binary as users run it: a child process against the test cluster, killed with SIGKILL when dropped.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use super::TestCluster;

/// An operator process watching one namespace, with its metrics (and optionally webhook) listener on loopback.
pub struct OperatorProcess {
    child: Child,
    /// Port of `/metrics`, `/healthz` and `/readyz`.
    pub metrics_port: u16,
    /// Port of `/webhook`, when started with one.
    pub webhook_port: Option<u16>,
    /// Where its stderr (the log) goes.
    pub log: PathBuf,
}

impl OperatorProcess {
    /// Starts `infinity-orchestrator run --namespace NAMESPACE` with `extra` arguments.
    pub fn start(cluster: &TestCluster, namespace: &str, extra: &[&str]) -> Self {
        Self::launch(cluster, namespace, extra, None)
    }

    /// Like [`OperatorProcess::start`], with the webhook receiver listening too.
    pub fn start_with_webhook(cluster: &TestCluster, namespace: &str, extra: &[&str]) -> Self {
        Self::launch(cluster, namespace, extra, Some(free_port()))
    }

    /// Like [`OperatorProcess::start_with_webhook`], logging at `rust_log` (a `RUST_LOG` filter) instead of `info`.
    pub fn start_with_webhook_logging(cluster: &TestCluster, namespace: &str, extra: &[&str], rust_log: &str) -> Self {
        Self::launch_logging(cluster, namespace, extra, Some(free_port()), rust_log)
    }

    fn launch(cluster: &TestCluster, namespace: &str, extra: &[&str], webhook_port: Option<u16>) -> Self {
        // `IO_TEST_OPERATOR_LOG=debug` (a `RUST_LOG` filter) looks closer at a test that fails.
        let rust_log = std::env::var("IO_TEST_OPERATOR_LOG").unwrap_or_else(|_| "info".to_owned());
        Self::launch_logging(cluster, namespace, extra, webhook_port, &rust_log)
    }

    fn launch_logging(
        cluster: &TestCluster,
        namespace: &str,
        extra: &[&str],
        webhook_port: Option<u16>,
        rust_log: &str,
    ) -> Self {
        let metrics_port = free_port();
        let metrics_addr = format!("127.0.0.1:{metrics_port}");
        let log = std::env::temp_dir().join(format!("operator-{namespace}-{metrics_port}.log"));
        let log_file = std::fs::File::create(&log).expect("creating a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"));
        command.args(["run", "--namespace", namespace, "--metrics-addr", &metrics_addr]);
        if let Some(port) = webhook_port {
            command.args(["--webhook-addr", &format!("127.0.0.1:{port}")]);
        }
        let child = command
            .args(extra)
            .env("KUBECONFIG", &cluster.kubeconfig)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("starting the operator");
        OperatorProcess { child, metrics_port, webhook_port, log }
    }

    /// GET on the metrics listener.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.metrics_port, path)
    }

    /// The `/metrics` page.
    pub fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics").expect("scraping /metrics");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Waits until `controller` (a kind, such as `BuildPlan`) has no reconcile under way and finished none for a
    /// second: what woke it last is behind it.
    pub async fn until_idle(&self, controller: &str) {
        let idle_counts = |metrics: &str| {
            let value = |series: String| {
                let found = metrics.lines().find_map(|line| line.strip_prefix(&series)?.strip_prefix(' '));
                found.and_then(|value| value.trim().parse::<f64>().ok()).unwrap_or(0.0)
            };
            let label = format!(r#"controller="{controller}""#);
            let finished = ["success", "error"]
                .map(|result| value(format!(r#"infinity_orchestrator_reconciles_total{{{label},result="{result}"}}"#)))
                .iter()
                .sum::<f64>();
            let under_way = value(format!("infinity_orchestrator_reconciles_in_flight{{{label}}}"));
            (under_way == 0.0).then_some(finished)
        };
        super::eventually(&format!("the {controller} controller idle"), Duration::from_secs(30), || async {
            let before = idle_counts(&self.metrics())?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            (idle_counts(&self.metrics())? == before).then_some(())
        })
        .await;
    }

    /// The webhook URL, when the receiver listens.
    pub fn webhook_url(&self) -> Option<String> {
        self.webhook_port.map(|port| format!("http://127.0.0.1:{port}/webhook"))
    }

    /// How it ended, if it did.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
        // A failing test shows what the operator was doing: CI keeps no temporary files.
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_LINES_SHOWN_ON_FAILURE)..];
            eprintln!("--- last {} lines of the operator's log {} ---", tail.len(), self.log.display());
            for line in tail {
                eprintln!("{line}");
            }
            eprintln!("--- end of the operator's log ---");
        }
    }
}

/// Enough to see the last reconciles of each controller, few enough to read in a CI log.
const LOG_LINES_SHOWN_ON_FAILURE: usize = 200;

/// A port nothing listens on right now, and that this test process has not handed out before: the kernel may give a
/// port just released to the next ask, and an operator given the same port for metrics and webhooks cannot start
/// (seen once: "cannot listen on 127.0.0.1:46639: Address already in use", and a test that waited for it in vain).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
        if HANDED_OUT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(port) {
            return port;
        }
    }
}

/// A plain HTTP/1.1 GET on loopback: the status code and the body, or `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Some((status, body))
}
