//! The HTML report in a real browser. An Organization's Repository objects (a dependency chain, a cycle, healthy,
//! unhealthy and unmeasured repositories) and a finished BuildPlan are written to the real API server; the
//! `report --format html --plan` command renders them; headless Chromium (Debian's `chromium`) opens the page and
//! the test asserts that every SVG renders with a non-empty bounding box, that the graph has exactly one node per
//! repository, that the timeline has one bar per planned repository with the critical path marked, and that the page
//! logs no console error. With `IO_REPORT_SCREENSHOT=PATH` it writes a PNG of the page there (the README's
//! `docs/report.png`).
//!
//! Chromium is driven through the DevTools protocol over `--remote-debugging-pipe` (file descriptors 3 and 4,
//! messages ended by a NUL byte): no WebSocket client, no port to pick.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use infinity_orchestrator::crd::{BuildPlan, Organization, Repository};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use support::{cluster, namespace, TestCluster};

/// Generous: Chromium starts slowly on two busy cores.
const BROWSER_WAIT: Duration = Duration::from_secs(120);

/// A headless Chromium with its own profile directory, killed (and the directory removed) on drop.
struct Browser {
    child: Child,
    commands: std::io::PipeWriter,
    messages: Receiver<Value>,
    /// Events received while waiting for answers, in order.
    events: Vec<Value>,
    next_id: u64,
    profile: PathBuf,
}

impl Browser {
    fn launch(profile: PathBuf) -> Self {
        std::fs::create_dir_all(&profile).unwrap();
        let (browser_reads, commands) = std::io::pipe().unwrap();
        let (answers, browser_writes) = std::io::pipe().unwrap();
        let (read_fd, write_fd) = (browser_reads.as_raw_fd(), browser_writes.as_raw_fd());
        let mut command = Command::new("/usr/bin/chromium");
        command
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.join("data").display()))
            .arg("about:blank")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(profile.join("chromium.log")).unwrap());
        // SAFETY: only fcntl and dup2 (async-signal-safe) run between fork and exec. The pipe ends are first copied
        // above 9, so that placing one on 3 cannot overwrite the other if it happened to be 3 or 4.
        unsafe {
            command.pre_exec(move || {
                let high_read = libc::fcntl(read_fd, libc::F_DUPFD, 10);
                let high_write = libc::fcntl(write_fd, libc::F_DUPFD, 10);
                if high_read < 0 || high_write < 0 || libc::dup2(high_read, 3) < 0 || libc::dup2(high_write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("starting /usr/bin/chromium");
        drop((browser_reads, browser_writes));
        let (send, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(answers);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|read| read > 0) {
                message.pop();
                if let Ok(value) = serde_json::from_slice(&message) {
                    if send.send(value).is_err() {
                        return;
                    }
                }
                message.clear();
            }
        });
        Self { child, commands, messages, events: Vec::new(), next_id: 0, profile }
    }

    /// Sends a DevTools command (to the page's `session` when given) and returns its result.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap_or_else(|e| panic!("sending {method}: {e}{}", self.log()));
        let answer = self.receive(&format!("the answer to {method}"), |m| m["id"] == id);
        assert!(answer.get("error").is_none(), "{method} failed: {answer}");
        answer["result"].clone()
    }

    /// Waits for the first message that `wanted` accepts, keeping every event met on the way.
    fn receive(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + BROWSER_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if wanted(&message) => return message,
                Ok(message) => {
                    if message.get("method").is_some() {
                        self.events.push(message);
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("no {what} within {BROWSER_WAIT:?}{}", self.log()),
                Err(RecvTimeoutError::Disconnected) => panic!("Chromium closed its pipe before {what}{}", self.log()),
            }
        }
    }

    /// Waits for the event that `wanted` accepts, or finds it among those already received.
    fn event(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(seen) = self.events.iter().find(|e| wanted(e)) {
            return seen.clone();
        }
        let event = self.receive(what, &wanted);
        self.events.push(event.clone());
        event
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.profile.join("chromium.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        format!("\nchromium.log (last lines):\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
    }
}

impl Drop for Browser {
    /// Asks Chromium to close, then kills its process group (the browser and its renderers) if it has not.
    fn drop(&mut self) {
        let _ = self.commands.write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on the process group this test started (Chromium leads it).
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// What the page measured of its pictures.
const MEASURE: &str = r#"(async () => {
  await document.fonts.ready;
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const box = e => { const b = e.getBBox(); return { width: b.width, height: b.height }; };
  return {
    url: location.href,
    svgs: [...document.querySelectorAll("svg")].map(s => ({ class: s.getAttribute("class"), ...box(s) })),
    nodes: [...document.querySelectorAll("svg.dependency-graph g.node")]
      .map(g => ({ name: g.dataset.repository, class: g.getAttribute("class"), ...box(g) })),
    bars: [...document.querySelectorAll("svg.plan-timeline g.bar")]
      .map(g => ({ name: g.dataset.repository, class: g.getAttribute("class"), ...box(g) })),
  };
})()"#;

fn cli(cluster: &TestCluster, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"))
        .args(args)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .output()
        .expect("running infinity-orchestrator");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

async fn repository(cluster: &TestCluster, ns: &str, name: &str, depends_on: &[&str], status: Value) {
    let api: Api<Repository> = Api::namespaced(cluster.client.clone(), ns);
    let object = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository", "metadata": { "name": name },
        "spec": { "organizationRef": { "name": "acme" }, "name": name, "dependsOn": depends_on },
    });
    api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap();
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(json!({ "status": status }))).await.unwrap();
}

/// A Repository status with a `Healthy` verdict and health over a window of 20 runs.
fn health(healthy: bool, rate: i32, median: i64, p90: i64, trend: &str) -> Value {
    json!({
        "health": { "score": rate, "windowRuns": 20, "successRatePercent": rate, "consecutiveFailures": 0,
                    "medianDurationSeconds": median, "p90DurationSeconds": p90, "durationTrend": trend },
        "conditions": [{ "type": "Healthy", "status": if healthy { "True" } else { "False" },
                         "reason": if healthy { "Passing" } else { "LowSuccessRate" }, "message": "from the test",
                         "lastTransitionTime": "2026-12-01T00:00:00Z" }],
    })
}

/// The repositories, by the dependencies they declare.
const REPOSITORIES: [(&str, &[&str]); 8] = [
    ("core", &[]),
    ("docs", &[]),
    ("lib", &["core"]),
    ("tool", &["core"]),
    ("web", &["lib", "core"]),
    ("cli", &["lib"]),
    ("plugin-a", &["plugin-b", "core"]),
    ("plugin-b", &["plugin-a"]),
];

/// A finished run: core, then lib (failed on its second attempt) and tool (the critical path, core → tool), web and
/// cli skipped after lib, docs already built.
fn finished_run() -> Value {
    let at = |second: i64| format!("2026-12-01T08:{:02}:{:02}Z", second / 60, second % 60);
    let built = |name: &str, state: &str, attempts: i32, from: i64, to: i64| {
        json!({ "name": name, "state": state, "attempts": attempts, "startTime": at(from), "completionTime": at(to),
                "conclusion": if state == "Succeeded" { "success" } else { "failure" } })
    };
    let settled = |name: &str, state: &str, when: i64, reason: &str| json!({ "name": name, "state": state, "completionTime": at(when), "reason": reason });
    json!({
        "phase": "Failed", "runId": "r-20261201", "startTime": at(0), "completionTime": at(400), "progress": "6/6",
        "counts": { "total": 6, "pending": 0, "running": 0, "succeeded": 3, "failed": 1, "skipped": 2 },
        "repositories": [
            built("core", "Succeeded", 1, 0, 95),
            settled("docs", "Cached", 2, "its head already has a successful build"),
            built("lib", "Failed", 2, 160, 310),
            built("tool", "Succeeded", 1, 95, 400),
            settled("web", "Skipped", 310, "lib failed"),
            settled("cli", "Skipped", 310, "lib failed"),
        ],
    })
}

#[tokio::test]
async fn report_renders_its_pictures_in_chromium() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "report-browser").await;
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    let org = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": "acme" },
        "spec": { "login": "acme", "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
    });
    organizations.create(&PostParams::default(), &serde_json::from_value(org).unwrap()).await.unwrap();
    for (name, depends_on) in REPOSITORIES {
        let status = match name {
            "lib" => health(false, 40, 150, 420, "Slower"),
            "cli" => json!({}),
            "tool" => health(true, 90, 300, 330, "Faster"),
            _ => health(true, 100, 95, 120, "Stable"),
        };
        repository(cluster, &ns, name, depends_on, status).await;
    }
    let plans: Api<BuildPlan> = Api::namespaced(cluster.client.clone(), &ns);
    let plan = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan", "metadata": { "name": "nightly" },
        "spec": { "organizationRef": { "name": "acme" } },
    });
    plans.create(&PostParams::default(), &serde_json::from_value(plan).unwrap()).await.unwrap();
    plans
        .patch_status("nightly", &PatchParams::default(), &Patch::Merge(json!({ "status": finished_run() })))
        .await
        .unwrap();

    // The commands on their own.
    let graph = cli(cluster, &["graph", "--org", "acme", "-n", &ns, "--format", "svg"]);
    assert_eq!(graph.matches("<g class=\"node ").count(), REPOSITORIES.len(), "{graph}");
    let dot = cli(cluster, &["graph", "--org", "acme", "-n", &ns, "--format", "dot"]);
    assert!(dot.contains("\"plugin-a\" -> \"plugin-b\" [color=") && dot.contains("\"web\" -> \"lib\";"), "{dot}");
    let mermaid = cli(cluster, &["graph", "--org", "acme", "-n", &ns, "--format", "mermaid"]);
    assert!(mermaid.starts_with("flowchart BT\n"), "{mermaid}");
    let timeline = cli(cluster, &["plan-timeline", "nightly", "-n", &ns]);
    assert!(timeline.contains("Critical path: core → tool (6m 40s)."), "{timeline}");

    let html = cli(cluster, &["report", "--org", "acme", "-n", &ns, "--format", "html", "--plan", "nightly"]);
    let dir = std::env::temp_dir().join(format!("io-report-in-browser-{ns}"));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, &html).unwrap();
    let screenshot = std::env::var_os("IO_REPORT_SCREENSHOT").map(PathBuf::from);
    let profile = dir.join("chromium");
    let measured =
        tokio::task::spawn_blocking(move || open_and_measure(&page, profile, screenshot.as_deref())).await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let Measured { svgs, nodes, bars, errors } = measured;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let classes: Vec<&str> = svgs.iter().map(|s| s["class"].as_str().unwrap_or_default()).collect();
    let count = |class: &str| classes.iter().filter(|c| **c == class).count();
    assert_eq!(count("dependency-graph"), 1, "{svgs:#?}");
    assert_eq!(count("plan-timeline"), 1, "{svgs:#?}");
    assert_eq!(count("health-trend"), REPOSITORIES.len() - 1, "every measured repository has a chart: {svgs:#?}");
    for picture in svgs.iter().chain(&nodes).chain(&bars) {
        assert!(picture["width"].as_f64() > Some(0.0) && picture["height"].as_f64() > Some(0.0), "{picture}");
    }
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> = REPOSITORIES.iter().map(|(name, _)| *name).collect();
    assert_eq!(names.len(), expected.len(), "one node per repository: {names:?}");
    assert_eq!(names.iter().copied().collect::<BTreeSet<_>>(), expected);
    let class_of = |list: &[Value], name: &str| -> String {
        list.iter().find(|n| n["name"] == name).map(|n| n["class"].as_str().unwrap().to_owned()).unwrap_or_default()
    };
    assert_eq!(class_of(&nodes, "lib"), "node unhealthy");
    assert_eq!(class_of(&nodes, "cli"), "node unknown");
    assert_eq!(class_of(&nodes, "plugin-a"), "node healthy cycle");
    assert_eq!(bars.len(), 6, "{bars:#?}");
    assert_eq!(class_of(&bars, "tool"), "bar succeeded critical");
    assert_eq!(class_of(&bars, "lib"), "bar failed");
    assert_eq!(class_of(&bars, "docs"), "bar cached");
}

/// What the browser saw.
struct Measured {
    svgs: Vec<Value>,
    nodes: Vec<Value>,
    bars: Vec<Value>,
    /// Console errors, exceptions and error log entries.
    errors: Vec<Value>,
}

fn open_and_measure(page: &Path, profile: PathBuf, screenshot: Option<&Path>) -> Measured {
    let mut browser = Browser::launch(profile);
    let target = browser.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
    let attached =
        browser.call(None, "Target.attachToTarget", json!({ "targetId": target["targetId"], "flatten": true }));
    let session_id = attached["sessionId"].as_str().unwrap().to_owned();
    let session = Some(session_id.as_str());
    for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
        browser.call(session, domain, json!({}));
    }
    browser.call(session, "Page.setLifecycleEventsEnabled", json!({ "enabled": true }));
    browser.call(
        session,
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1600, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
    );
    let url = format!("file://{}", page.display());
    let navigated = browser.call(session, "Page.navigate", json!({ "url": url }));
    assert!(navigated.get("errorText").is_none(), "{navigated}");
    // The load of this navigation (its loader), not of the blank page before it.
    let loader = navigated["loaderId"].clone();
    browser.event("the page's load event", |e| {
        e["method"] == "Page.lifecycleEvent"
            && e["sessionId"] == session_id.as_str()
            && e["params"]["name"] == "load"
            && e["params"]["loaderId"] == loader
    });
    let measured = browser.call(
        session,
        "Runtime.evaluate",
        json!({ "expression": MEASURE, "awaitPromise": true, "returnByValue": true }),
    );
    assert!(measured.get("exceptionDetails").is_none(), "{measured}");
    let value = &measured["result"]["value"];
    assert_eq!(value["url"], url.as_str());
    let list = |key: &str| value[key].as_array().cloned().unwrap_or_default();

    let metrics = browser.call(session, "Page.getLayoutMetrics", json!({}));
    let size = &metrics["cssContentSize"];
    let clip = json!({ "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 });
    let shot = browser.call(
        session,
        "Page.captureScreenshot",
        json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }),
    );
    let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a screenshot of the page");
    if let Some(path) = screenshot {
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    let errors = browser
        .events
        .iter()
        .filter(|e| match e["method"].as_str() {
            Some("Runtime.consoleAPICalled") => matches!(e["params"]["type"].as_str(), Some("error" | "assert")),
            Some("Runtime.exceptionThrown") => true,
            Some("Log.entryAdded") => e["params"]["entry"]["level"] == "error",
            _ => false,
        })
        .cloned()
        .collect();
    Measured { svgs: list("svgs"), nodes: list("nodes"), bars: list("bars"), errors }
}
