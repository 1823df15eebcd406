//! `infinity-orchestrator manifest` and `report` against Repository objects in the real API server.

mod support;

use std::process::Command;

use infinity_orchestrator::crd::{Organization, Repository};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{cluster, namespace, TestCluster};

fn cli(cluster: &TestCluster, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"))
        .args(args)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .output()
        .expect("running infinity-orchestrator")
}

async fn repository(cluster: &TestCluster, ns: &str, org: &str, name: &str, status: serde_json::Value) {
    let api: Api<Repository> = Api::namespaced(cluster.client.clone(), ns);
    let object = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
        "metadata": { "name": format!("{org}-{name}") },
        "spec": { "organizationRef": { "name": org }, "name": name },
    });
    api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap();
    api.patch_status(&format!("{org}-{name}"), &PatchParams::default(), &Patch::Merge(json!({ "status": status })))
        .await
        .unwrap();
}

#[tokio::test]
async fn manifest_and_report_cover_every_repository_of_the_organization() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "manifest").await;
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    for name in ["acme", "other"] {
        let org = json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Organization", "metadata": { "name": name },
            "spec": { "login": name, "credentials": { "type": "Token", "secretRef": { "name": "gh" } } },
        });
        organizations.create(&PostParams::default(), &serde_json::from_value(org).unwrap()).await.unwrap();
    }
    repository(cluster, &ns, "acme", "core", json!({
        "language": "rust", "buildCommand": "cargo build --workspace --locked", "testCommand": "cargo test --workspace",
        "health": { "score": 100, "windowRuns": 20, "successRatePercent": 100, "consecutiveFailures": 0 },
    }))
    .await;
    repository(cluster, &ns, "acme", "web", json!({
        "language": "javascript", "buildCommand": "npm run build", "testCommand": "npm test",
        "dependencies": [{ "repository": "core", "evidence": [{ "file": "package.json", "dependency": "@acme/core" }] }],
        "health": { "score": 25, "windowRuns": 8, "successRatePercent": 50, "consecutiveFailures": 3 },
        "security": { "dependabot": { "critical": 0, "high": 2, "medium": 1, "low": 0 },
                      "codeScanning": { "critical": 0, "high": 0, "medium": 0, "low": 0 }, "secretScanning": 0 },
    }))
    .await;
    repository(cluster, &ns, "other", "unrelated", json!({ "language": "go" })).await;

    let manifest = cli(cluster, &["manifest", "--org", "acme", "-n", &ns]);
    assert!(manifest.status.success(), "{}", String::from_utf8_lossy(&manifest.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(
        manifest,
        json!({ "repositories": [
            { "name": "core", "language": "rust", "build_command": "cargo build --workspace --locked",
              "test_command": "cargo test --workspace", "dependencies": [] },
            { "name": "web", "language": "javascript", "build_command": "npm run build", "test_command": "npm test",
              "dependencies": ["core"] },
        ]})
    );

    let report = cli(cluster, &["report", "--org", "acme", "-n", &ns, "--format", "json"]);
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let names: Vec<&str> =
        report["repositories"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["web", "core"], "worst first, and only acme's repositories");
    assert_eq!(report["repositories"][0]["health_score"], 25);
    assert_eq!(report["repositories"][0]["consecutive_failures"], 3);
    assert_eq!(report["repositories"][0]["dependabot"]["high"], 2);
    assert_eq!(report["totals"]["dependabot_alerts"], 3);

    let markdown = cli(cluster, &["report", "--org", "acme", "-n", &ns, "--format", "md"]);
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    assert!(markdown.contains("| web | 98 | 25 |") && markdown.contains("| core | 0 | 100 |"), "{markdown}");
    let html = cli(cluster, &["report", "--org", "acme", "-n", &ns, "--format", "html"]);
    let html = String::from_utf8(html.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<td>web</td>") && html.contains("<td>core</td>"));

    let missing = cli(cluster, &["manifest", "--org", "nope", "-n", &ns]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("Organization \"nope\" not found"), "{stderr}");
}
