//! The API types against the real API server: the CRDs install, every example is accepted, invalid objects are
//! rejected with messages naming the field, and `kubectl` shows what users need.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use infinity_orchestrator::crd::build_plan::FailurePolicy;
use infinity_orchestrator::crd::{BuildPlan, HealingPolicy, Organization, Repository};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::core::DynamicObject;
use kube::ResourceExt;
use serde_json::json;
use support::{cluster, eventually, namespace, repo_root};

#[test]
fn crd_command_output_equals_the_committed_files() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_infinity-orchestrator"))
        .arg("crd")
        .output()
        .expect("running infinity-orchestrator crd");
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).expect("UTF-8 output");
    let committed: Vec<String> = ["organization.yaml", "repository.yaml", "buildplan.yaml", "healingpolicy.yaml"]
        .iter()
        .map(|file| std::fs::read_to_string(repo_root().join("crds").join(file)).expect("reading crds/"))
        .collect();
    assert_eq!(
        printed,
        committed.join("---\n"),
        "crds/ is stale: run `cargo run -- crd --out-dir crds` and commit the result"
    );
    let files = std::fs::read_dir(repo_root().join("crds")).expect("listing crds/").count();
    assert_eq!(files, 4, "crds/ holds exactly one file per kind");
}

#[tokio::test]
async fn every_example_is_accepted_and_reads_back_into_our_types() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "examples").await;
    let examples = repo_root().join("examples");
    let applied = cluster.kubectl_ok(&["apply", "-n", &ns, "-f", examples.to_str().expect("UTF-8 path")]);
    for kind in ["organization", "repository", "buildplan", "healingpolicy", "secret"] {
        assert!(applied.contains(kind), "kubectl apply did not mention a {kind}:\n{applied}");
    }
    let client = &cluster.client;
    let organizations = Api::<Organization>::namespaced(client.clone(), &ns).list(&Default::default()).await.unwrap();
    let repositories = Api::<Repository>::namespaced(client.clone(), &ns).list(&Default::default()).await.unwrap();
    let plans = Api::<BuildPlan>::namespaced(client.clone(), &ns).list(&Default::default()).await.unwrap();
    let policies = Api::<HealingPolicy>::namespaced(client.clone(), &ns).list(&Default::default()).await.unwrap();
    assert_eq!(organizations.items.len(), 1);
    assert_eq!(organizations.items[0].spec.login, "InfinityXOneSystems");
    assert_eq!(repositories.items.len(), 1);
    assert_eq!(repositories.items[0].spec.depends_on.len(), 1);
    assert_eq!(plans.items.len(), 1);
    assert_eq!(plans.items[0].spec.schedule.as_deref(), Some("0 2 * * *"));
    assert_eq!(policies.items.len(), 1);
    assert!(policies.items[0].spec.actions.rollback.enabled);
}

#[tokio::test]
async fn the_server_fills_in_documented_defaults() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "defaults").await;
    let plans: Api<BuildPlan> = Api::namespaced(cluster.client.clone(), &ns);
    // Send only what a user would write, so that the defaults come from the server's schema, not from serde.
    let created = create_dynamic(
        &cluster.client,
        &ns,
        "buildplans",
        &minimal_json(
            "BuildPlan",
            json!({
                "organizationRef": { "name": "acme" },
            }),
        ),
    )
    .await
    .expect("a minimal BuildPlan is valid");
    // What the operator's configuration supplies stays unset in the object, so that a change of configuration
    // reaches every plan that did not choose for itself.
    assert_eq!(created.data["spec"].get("maxParallel"), None);
    let stored = plans.get("minimal").await.unwrap();
    assert_eq!(stored.spec.max_parallel, None);
    assert_eq!(stored.spec.timeout_minutes, None);
    assert_eq!(stored.spec.retry_attempts, None);
    assert_eq!(stored.spec.history_limit, 10);
    assert_eq!(stored.spec.failure_policy, FailurePolicy::SkipDependents);
    assert!(!stored.spec.suspend);

    let org = create_dynamic(
        &cluster.client,
        &ns,
        "organizations",
        &minimal_json(
            "Organization",
            json!({
                "login": "acme",
                "credentials": { "type": "Token", "secretRef": { "name": "gh" } },
            }),
        ),
    )
    .await
    .expect("a minimal Organization is valid");
    assert_eq!(org.data["spec"]["apiUrl"], "https://api.github.com");
    assert_eq!(org.data["spec"]["discovery"].get("interval"), None, "the operator's discovery.scan_interval applies");
    assert_eq!(org.data["spec"]["discovery"]["visibility"], "All");
    assert_eq!(org.data["spec"]["prune"], "Delete");
}

/// One invalid object: its kind, what it changes in a valid spec (`null` removes a key), the field its rejection
/// must name, and the schema keyword it breaks.
struct Invalid {
    plural: &'static str,
    kind: &'static str,
    change: serde_json::Value,
    field: &'static str,
    keyword: &'static str,
}

/// Words of the API server's message for each keyword, so that a row proves it breaks the rule it claims to.
fn words_for(keyword: &str) -> &'static str {
    match keyword {
        "pattern" => "should match",
        "enum" => "Unsupported value",
        "minimum" => "greater than or equal to",
        "maximum" => "less than or equal to",
        "minLength" => "at least",
        "maxLength" | "maxItems" => "at most",
        "minItems" => "at least",
        "required" => "Required value",
        other => panic!("no words known for the keyword {other}"),
    }
}

/// A valid spec of each kind, which each row changes in one place.
fn valid_spec(kind: &str) -> serde_json::Value {
    match kind {
        "BuildPlan" | "HealingPolicy" => json!({ "organizationRef": { "name": "acme" } }),
        "Repository" => json!({ "organizationRef": { "name": "acme" }, "name": "core" }),
        "Organization" => json!({ "login": "acme", "credentials": { "type": "Token", "secretRef": { "name": "gh" } } }),
        other => panic!("unknown kind {other}"),
    }
}

/// `change` merged into `target`, recursively; `null` removes the key.
fn merge(target: &mut serde_json::Value, change: &serde_json::Value) {
    match (target.as_object_mut(), change.as_object()) {
        (Some(target), Some(change)) => {
            for (key, value) in change {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(json!({})), value);
                }
            }
        }
        _ => *target = change.clone(),
    }
}

/// Every constraint of every kind's schema broken once: the test below checks that no constraint is missing.
fn invalid_objects() -> Vec<Invalid> {
    let long = |n: usize| "a".repeat(n);
    let many = |n: usize| (0..n).map(|i| format!("r{i}")).collect::<Vec<_>>();
    let mut rows = Vec::new();
    let mut row = |plural, kind, change, field, keyword| rows.push(Invalid { plural, kind, change, field, keyword });
    // The organization reference and the selector, shared by the kinds that have them.
    for (plural, kind) in
        [("buildplans", "BuildPlan"), ("healingpolicies", "HealingPolicy"), ("repositories", "Repository")]
    {
        row(plural, kind, json!({ "organizationRef": null }), "spec.organizationRef", "required");
        row(plural, kind, json!({ "organizationRef": { "name": null } }), "spec.organizationRef.name", "required");
        let name = |value: &str| json!({ "organizationRef": { "name": value } });
        row(plural, kind, name("Not_A_Name"), "spec.organizationRef.name", "pattern");
        row(plural, kind, name(""), "spec.organizationRef.name", "minLength");
        row(plural, kind, name(&long(254)), "spec.organizationRef.name", "maxLength");
        if kind == "Repository" {
            continue;
        }
        let selector = |selector: serde_json::Value| json!({ "selector": selector });
        let expression = |e: serde_json::Value| selector(json!({ "matchExpressions": [e] }));
        let field = "spec.selector.matchExpressions.key";
        row(plural, kind, expression(json!({ "operator": "Exists" })), field, "required");
        row(plural, kind, expression(json!({ "key": "", "operator": "Exists" })), field, "minLength");
        row(plural, kind, expression(json!({ "key": long(318), "operator": "Exists" })), field, "maxLength");
        let field = "spec.selector.matchExpressions.operator";
        row(plural, kind, expression(json!({ "key": "k" })), field, "required");
        row(plural, kind, expression(json!({ "key": "k", "operator": "Like" })), field, "enum");
        let names = |name: &str| selector(json!({ "names": ["core", name] }));
        row(plural, kind, names("has space"), "spec.selector.names", "pattern");
        row(plural, kind, names(""), "spec.selector.names", "minLength");
        row(plural, kind, names(&long(101)), "spec.selector.names", "maxLength");
    }
    // Durations (`6h`, `90s`, `1h30m`) and bounded integers, by kind.
    let durations = |row: &mut dyn FnMut(serde_json::Value, &'static str, &'static str),
                     at: &dyn Fn(&str) -> serde_json::Value,
                     field| {
        row(at("6 hours"), field, "pattern");
        row(at("5"), field, "minLength");
        row(at(&"1s".repeat(17)), field, "maxLength");
    };
    let bounded = |row: &mut dyn FnMut(serde_json::Value, &'static str, &'static str),
                   at: &dyn Fn(i64) -> serde_json::Value,
                   field,
                   low: i64,
                   high: i64| {
        row(at(low - 1), field, "minimum");
        row(at(high + 1), field, "maximum");
    };

    let mut plan = |change, field, keyword| row("buildplans", "BuildPlan", change, field, keyword);
    plan(json!({ "failurePolicy": "Sometimes" }), "spec.failurePolicy", "enum");
    bounded(&mut plan, &|v| json!({ "historyLimit": v }), "spec.historyLimit", 0, 100);
    bounded(&mut plan, &|v| json!({ "maxParallel": v }), "spec.maxParallel", 1, 256);
    bounded(&mut plan, &|v| json!({ "retryAttempts": v }), "spec.retryAttempts", 0, 10);
    bounded(&mut plan, &|v| json!({ "timeoutMinutes": v }), "spec.timeoutMinutes", 1, 4320);
    plan(json!({ "ref": "" }), "spec.ref", "minLength");
    plan(json!({ "ref": long(256) }), "spec.ref", "maxLength");
    plan(json!({ "schedule": "every night" }), "spec.schedule", "pattern");
    plan(json!({ "schedule": "@daily" }), "spec.schedule", "minLength");
    plan(json!({ "schedule": format!("0 0 * * {}", "1".repeat(121)) }), "spec.schedule", "maxLength");

    let mut policy = |change, field, keyword| row("healingpolicies", "HealingPolicy", change, field, keyword);
    policy(json!({ "mode": "Yolo" }), "spec.mode", "enum");
    policy(json!({ "autoMerge": ["Everything"] }), "spec.autoMerge", "enum");
    let rungs = |rungs: serde_json::Value| json!({ "escalation": { "rungs": rungs } });
    policy(rungs(json!([])), "spec.escalation.rungs", "minItems");
    let five = ["Rerun", "Issue", "FixPullRequest", "RollbackPullRequest", "Rerun"].map(|a| json!({ "action": a }));
    policy(rungs(json!(five)), "spec.escalation.rungs", "maxItems");
    policy(rungs(json!([{ "action": "Pray" }])), "spec.escalation.rungs.action", "enum");
    policy(rungs(json!([{ "window": "1m" }])), "spec.escalation.rungs.action", "required");
    let window = |v: &str| rungs(json!([{ "action": "Issue", "window": v }]));
    durations(&mut policy, &window, "spec.escalation.rungs.window");
    durations(&mut policy, &|v| json!({ "interval": v }), "spec.interval");
    durations(&mut policy, &|v| json!({ "cooldown": v }), "spec.cooldown");
    durations(&mut policy, &|v| json!({ "actions": { "rerun": { "backoff": v } } }), "spec.actions.rerun.backoff");
    let field = "spec.actions.rerun.maxAttemptsPerSha";
    bounded(&mut policy, &|v| json!({ "actions": { "rerun": { "maxAttemptsPerSha": v } } }), field, 1, 10);
    let field = "spec.actions.rollback.afterConsecutiveFailures";
    bounded(&mut policy, &|v| json!({ "actions": { "rollback": { "afterConsecutiveFailures": v } } }), field, 1, 100);
    let field = "spec.actions.dependencyUpdate.maxOpenPullRequests";
    bounded(&mut policy, &|v| json!({ "actions": { "dependencyUpdate": { "maxOpenPullRequests": v } } }), field, 1, 20);
    let change = json!({ "actions": { "dependencyUpdate": { "minSeverity": "severe" } } });
    policy(change, "spec.actions.dependencyUpdate.minSeverity", "enum");
    let field = "spec.maxActionsPerRepositoryPerHour";
    bounded(&mut policy, &|v| json!({ "maxActionsPerRepositoryPerHour": v }), field, 1, 100);
    let field = "spec.thresholds.consecutiveFailures";
    bounded(&mut policy, &|v| json!({ "thresholds": { "consecutiveFailures": v } }), field, 1, 100);
    let field = "spec.thresholds.minSuccessRatePercent";
    bounded(&mut policy, &|v| json!({ "thresholds": { "minSuccessRatePercent": v } }), field, 0, 100);
    bounded(&mut policy, &|v| json!({ "thresholds": { "windowRuns": v } }), "spec.thresholds.windowRuns", 1, 100);

    let mut org = |change, field, keyword| row("organizations", "Organization", change, field, keyword);
    org(json!({ "login": null }), "spec.login", "required");
    org(json!({ "login": "-not a login-" }), "spec.login", "pattern");
    org(json!({ "login": "" }), "spec.login", "minLength");
    org(json!({ "login": long(40) }), "spec.login", "maxLength");
    org(json!({ "credentials": null }), "spec.credentials", "required");
    org(json!({ "credentials": { "type": null } }), "spec.credentials.type", "required");
    org(json!({ "credentials": { "type": "Password" } }), "spec.credentials.type", "enum");
    org(json!({ "credentials": { "secretRef": null } }), "spec.credentials.secretRef", "required");
    let secret_name = |value: serde_json::Value| json!({ "credentials": { "secretRef": { "name": value } } });
    org(secret_name(serde_json::Value::Null), "spec.credentials.secretRef.name", "required");
    org(secret_name(json!("Not_A_Name")), "spec.credentials.secretRef.name", "pattern");
    org(secret_name(json!("")), "spec.credentials.secretRef.name", "minLength");
    org(secret_name(json!(long(254))), "spec.credentials.secretRef.name", "maxLength");
    org(json!({ "apiUrl": "ftp://example.com" }), "spec.apiUrl", "pattern");
    org(json!({ "apiUrl": format!("https://example.com/{}", long(2030)) }), "spec.apiUrl", "maxLength");
    durations(&mut org, &|v| json!({ "discovery": { "interval": v } }), "spec.discovery.interval");
    for list in ["include", "exclude", "topics"] {
        let field = match list {
            "include" => "spec.discovery.include",
            "exclude" => "spec.discovery.exclude",
            _ => "spec.discovery.topics",
        };
        org(json!({ "discovery": { list: many(257) } }), field, "maxItems");
    }
    org(json!({ "discovery": { "visibility": "Secret" } }), "spec.discovery.visibility", "enum");
    org(json!({ "discovery": { "reads": "SOAP" } }), "spec.discovery.reads", "enum");
    let workflow_path = |value: String| json!({ "onboarding": { "workflowPath": value } });
    org(workflow_path("../escape.yml".into()), "spec.onboarding.workflowPath", "pattern");
    org(workflow_path(String::new()), "spec.onboarding.workflowPath", "minLength");
    org(workflow_path(format!(".github/workflows/{}.yml", long(234))), "spec.onboarding.workflowPath", "maxLength");
    org(json!({ "prune": "Archive" }), "spec.prune", "enum");
    let field = "spec.pruneHoldThresholdPercent";
    bounded(&mut org, &|v| json!({ "pruneHoldThresholdPercent": v }), field, 0, 100);

    let mut repo = |change, field, keyword| row("repositories", "Repository", change, field, keyword);
    repo(json!({ "name": null }), "spec.name", "required");
    repo(json!({ "name": "has spaces" }), "spec.name", "pattern");
    repo(json!({ "name": "" }), "spec.name", "minLength");
    repo(json!({ "name": long(101) }), "spec.name", "maxLength");
    repo(json!({ "dependsOn": ["core", "../etc"] }), "spec.dependsOn", "pattern");
    repo(json!({ "dependsOn": [""] }), "spec.dependsOn", "minLength");
    repo(json!({ "dependsOn": [long(101)] }), "spec.dependsOn", "maxLength");
    repo(json!({ "build": { "workflow": "../escape.sh" } }), "spec.build.workflow", "pattern");
    repo(json!({ "build": { "workflow": "" } }), "spec.build.workflow", "minLength");
    repo(json!({ "build": { "workflow": format!("{}.yml", long(252)) } }), "spec.build.workflow", "maxLength");
    repo(json!({ "build": { "ref": "" } }), "spec.build.ref", "minLength");
    repo(json!({ "build": { "ref": long(256) } }), "spec.build.ref", "maxLength");
    repo(json!({ "build": { "command": "" } }), "spec.build.command", "minLength");
    repo(json!({ "build": { "command": long(1025) } }), "spec.build.command", "maxLength");
    repo(json!({ "test": { "command": "" } }), "spec.test.command", "minLength");
    repo(json!({ "test": { "command": long(1025) } }), "spec.test.command", "maxLength");
    rows
}

/// Every `(field, keyword)` constraint in a kind's spec schema, fields written as the server names them (an array's
/// items as the array: Kubernetes 1.20 names no index). A `required` list counts once per required property.
fn constraints(schema: &serde_json::Value, path: &str, found: &mut BTreeSet<(String, String)>) {
    for keyword in ["pattern", "enum", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"] {
        if schema.get(keyword).is_some() {
            found.insert((path.to_owned(), keyword.to_owned()));
        }
    }
    for required in schema.get("required").and_then(|r| r.as_array()).into_iter().flatten() {
        found.insert((format!("{path}.{}", required.as_str().unwrap_or_default()), "required".to_owned()));
    }
    for (name, property) in schema.get("properties").and_then(|p| p.as_object()).into_iter().flatten() {
        constraints(property, &format!("{path}.{name}"), found);
    }
    if let Some(items) = schema.get("items") {
        constraints(items, path, found);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        constraints(values, &format!("{path}{{}}"), found);
    }
}

#[test]
fn the_invalid_table_breaks_every_constraint_of_every_kind() {
    let rows = invalid_objects();
    let mut missing = Vec::new();
    for (_, crd) in infinity_orchestrator::crd::all() {
        let crd = serde_json::to_value(&crd).expect("a CRD as JSON");
        let kind = crd["spec"]["names"]["kind"].as_str().expect("a kind").to_owned();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let mut found = BTreeSet::new();
        constraints(spec, "spec", &mut found);
        assert!(found.len() > 5, "{kind}: too few constraints found, is the walk broken? {found:?}");
        for (field, keyword) in found {
            let covered = rows.iter().any(|r| r.kind == kind && r.field == field && r.keyword == keyword);
            if !covered {
                missing.push(format!("{kind} {field} {keyword}"));
            }
        }
    }
    assert!(missing.is_empty(), "constraints no row of invalid_objects() breaks:\n{}", missing.join("\n"));
}

#[tokio::test]
async fn invalid_objects_are_rejected_with_a_message_naming_the_field() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "invalid").await;
    let rows = invalid_objects();
    for Invalid { plural, kind, change, field, keyword } in &rows {
        let mut spec = valid_spec(kind);
        merge(&mut spec, change);
        let error = create_dynamic(&cluster.client, &ns, plural, &minimal_json(kind, spec.clone()))
            .await
            .expect_err(&format!("{kind} with {change} should be rejected ({field} {keyword})"));
        let kube::Error::Api(status) = &error else { panic!("{kind} {change}: unexpected error {error}") };
        assert_eq!(status.code, 422, "{kind} {change}: {status:?}");
        let message = &status.message;
        assert!(message.contains(&format!("{field}:")), "{kind} {change}: the message should name {field}: {message}");
        let words = words_for(keyword);
        assert!(message.contains(words), "{kind} {change}: the message should say {words:?} ({keyword}): {message}");
    }
    // The valid spec each row starts from is accepted: the rows fail for their change alone.
    for (plural, kind) in [
        ("buildplans", "BuildPlan"),
        ("healingpolicies", "HealingPolicy"),
        ("repositories", "Repository"),
        ("organizations", "Organization"),
    ] {
        let mut object = minimal_json(kind, valid_spec(kind));
        object["metadata"]["name"] = json!(format!("valid-{plural}"));
        create_dynamic(&cluster.client, &ns, plural, &object).await.unwrap_or_else(|e| panic!("a valid {kind}: {e}"));
    }
    // Nothing rejected was stored.
    let stored = cluster.kubectl_ok(&["get", "infinity", "-n", &ns, "-o", "name"]);
    assert_eq!(stored.lines().count(), 4, "only the four valid objects are stored: {stored}");
    assert!(stored.lines().all(|line| line.contains("/valid-")), "{stored}");
}

/// Each kind's status is written whole by its controller: the schema marks it atomic, so server-side apply tracks it
/// as one field, and a write replaces all of it, taking over what any other writer set.
#[tokio::test]
async fn each_status_is_one_field_that_a_write_replaces_whole() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "atomic-status").await;
    let condition = json!({
        "type": "Ready", "status": "True", "observedGeneration": 1, "lastTransitionTime": "2026-01-01T00:00:00Z",
        "reason": "Test", "message": "set by another writer",
    });
    for (plural, kind) in [
        ("buildplans", "BuildPlan"),
        ("healingpolicies", "HealingPolicy"),
        ("repositories", "Repository"),
        ("organizations", "Organization"),
    ] {
        let created = create_dynamic(&cluster.client, &ns, plural, &minimal_json(kind, valid_spec(kind)))
            .await
            .unwrap_or_else(|e| panic!("a valid {kind}: {e}"));
        assert_eq!(created.name_any(), "minimal");
        let api = dynamic_api(&cluster.client, &ns, plural, kind);
        let other = PatchParams { field_manager: Some("another-writer".into()), ..Default::default() };
        let set_by_other = json!({ "status": { "observedGeneration": 1, "conditions": [condition] } });
        api.patch_status("minimal", &other, &Patch::Merge(&set_by_other)).await.unwrap();

        let applied = json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": kind, "status": { "observedGeneration": 2 },
        });
        let params = PatchParams::apply("the-controller").force();
        let written = api.patch_status("minimal", &params, &Patch::Apply(&applied)).await.unwrap();

        assert_eq!(written.data["status"], json!({ "observedGeneration": 2 }), "{kind}: the status is replaced whole");
        let owning_status: Vec<_> = written
            .managed_fields()
            .iter()
            .filter(|entry| entry.fields_v1.as_ref().is_some_and(|fields| fields.0.get("f:status").is_some()))
            .map(|entry| (entry.manager.clone().unwrap_or_default(), entry.fields_v1.clone().unwrap().0))
            .collect();
        assert_eq!(owning_status, [("the-controller".to_owned(), json!({ "f:status": {} }))], "{kind}");
    }
}

/// A Repository's zero counts and false flags are left out of its status, as Kubernetes' own statuses leave them,
/// and the server adds no default back: a write carries, and every watcher decodes, only what is there.
#[tokio::test]
async fn a_repository_status_leaves_out_zero_counts_and_reads_back_the_same() {
    use infinity_orchestrator::crd::repository::{AlertCounts, HealthStatus, RepositoryStatus, SecurityStatus};
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "zero-counts").await;
    create_dynamic(&cluster.client, &ns, "repositories", &minimal_json("Repository", valid_spec("Repository")))
        .await
        .expect("a valid Repository");
    let status = RepositoryStatus {
        observed_generation: Some(1),
        health: Some(HealthStatus { score: 0, window_runs: 0, success_rate_percent: 0, ..HealthStatus::default() }),
        security: Some(SecurityStatus {
            dependabot: AlertCounts { high: 2, ..AlertCounts::default() },
            disabled_features: vec!["codeScanning".into(), "secretScanning".into()],
            ..SecurityStatus::default()
        }),
        ..RepositoryStatus::default()
    };
    let api: Api<Repository> = Api::namespaced(cluster.client.clone(), &ns);
    let applied =
        json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository", "status": status });
    api.patch_status("minimal", &PatchParams::apply("the-controller").force(), &Patch::Apply(&applied)).await.unwrap();

    let stored = dynamic_api(&cluster.client, &ns, "repositories", "Repository").get("minimal").await.unwrap();
    assert_eq!(
        stored.data["status"],
        json!({
            "observedGeneration": 1,
            "health": { "score": 0, "windowRuns": 0, "successRatePercent": 0 },
            "security": { "dependabot": { "high": 2 }, "disabledFeatures": ["codeScanning", "secretScanning"] },
        }),
        "only what is not zero, besides the health figures a printer column and readers always find"
    );
    assert_eq!(api.get("minimal").await.unwrap().status, Some(status), "read back into our types, zeros and all");
}

#[tokio::test]
async fn kubectl_explain_teaches_the_api() {
    let cluster = &cluster().await;
    // The server publishes a new CRD's OpenAPI a moment after it is established.
    let explained = eventually("kubectl explain buildplan.spec.maxParallel", Duration::from_secs(60), || async {
        let output = cluster.kubectl(&["explain", "buildplan.spec.maxParallel"]);
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    })
    .await;
    assert!(explained.contains("FIELD:    maxParallel <integer>"), "{explained}");
    assert!(explained.contains("Most workflow runs in flight at once across the plan."), "{explained}");
    assert!(explained.contains("Unset: the operator's") && explained.contains("`build.max_parallel`"), "{explained}");

    let credentials = cluster.kubectl_ok(&["explain", "organization.spec.credentials"]);
    assert!(credentials.contains("secretRef") && credentials.contains("-required-"), "{credentials}");
    assert!(credentials.contains("installationId"), "{credentials}");
}

#[tokio::test]
async fn kubectl_get_shows_printer_columns_and_the_infinity_category() {
    let cluster = &cluster().await;
    let ns = namespace(&cluster.client, "columns").await;
    let examples = repo_root().join("examples");
    cluster.kubectl_ok(&["apply", "-n", &ns, "-f", examples.to_str().expect("UTF-8 path")]);

    let table = cluster.kubectl_ok(&["get", "repositories,buildplans", "-n", &ns]);
    let headers: Vec<&str> = table.lines().filter(|line| line.starts_with("NAME")).collect();
    assert_eq!(headers.len(), 2, "{table}");
    for column in ["GITHUB", "LANGUAGE", "HEALTH", "HEALTHY", "READY", "AGE"] {
        assert!(headers[0].contains(column), "repositories lack {column}: {}", headers[0]);
    }
    for column in ["ORGANIZATION", "PHASE", "PROGRESS", "READY", "AGE"] {
        assert!(headers[1].contains(column), "buildplans lack {column}: {}", headers[1]);
    }
    assert!(table.contains("api-gateway") && table.contains("nightly-services"), "{table}");

    let wide = cluster.kubectl_ok(&["get", "buildplans", "-n", &ns, "-o", "wide"]);
    assert!(wide.contains("SCHEDULE") && wide.contains("0 2 * * *"), "{wide}");

    let everything = cluster.kubectl_ok(&["get", "infinity", "-n", &ns, "-o", "name"]);
    let mut kinds: Vec<&str> = everything.lines().filter_map(|line| line.split('/').next()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "buildplan.orchestrator.infinityxone.io",
            "healingpolicy.orchestrator.infinityxone.io",
            "organization.orchestrator.infinityxone.io",
            "repository.orchestrator.infinityxone.io",
        ],
        "{everything}"
    );
    let short = cluster.kubectl_ok(&["get", "org,repo,bp,hp", "-n", &ns, "-o", "name"]);
    assert_eq!(short.lines().count(), 4, "short names: {short}");
}

fn minimal_json(kind: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
        "kind": kind,
        "metadata": { "name": "minimal" },
        "spec": spec,
    })
}

/// Creates an object from raw JSON, so the test sends exactly what a user would.
async fn create_dynamic(
    client: &kube::Client,
    namespace: &str,
    plural: &str,
    object: &serde_json::Value,
) -> Result<DynamicObject, kube::Error> {
    let api = dynamic_api(client, namespace, plural, object["kind"].as_str().unwrap_or_default());
    let object: DynamicObject = serde_json::from_value(object.clone()).expect("a DynamicObject");
    api.create(&PostParams::default(), &object).await
}

fn dynamic_api(client: &kube::Client, namespace: &str, plural: &str, kind: &str) -> Api<DynamicObject> {
    let resource = kube::api::ApiResource {
        group: "orchestrator.infinityxone.io".into(),
        version: "v1alpha1".into(),
        api_version: "orchestrator.infinityxone.io/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    Api::namespaced_with(client.clone(), namespace, &resource)
}
