//! The controllers against the real API server: an Organization reports its credentials Secret in its conditions,
//! and the kinds that refer to an Organization wait for it and wake when it appears.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use infinity_orchestrator::crd::condition::find_condition;
use infinity_orchestrator::crd::{
    BuildPlan, Condition, ConditionStatus, HasConditions, HealingPolicy, Organization, Repository,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{assert_no_secret_leaks, cluster, eventually, namespace, RunningOperator};

fn organization(login: &str, credential_type: &str, secret: &str) -> Organization {
    serde_json::from_value(json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
        "kind": "Organization",
        "metadata": { "name": "acme" },
        "spec": { "login": login, "credentials": { "type": credential_type, "secretRef": { "name": secret } } },
    }))
    .expect("a valid Organization")
}

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    let string_data: BTreeMap<String, String> = data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Secret {
        metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() },
        string_data: Some(string_data),
        ..Default::default()
    }
}

/// Waits until the object's `Ready` condition has this reason, and returns its conditions.
async fn until_ready_reason<K>(api: &Api<K>, name: &str, reason: &str) -> Vec<Condition>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + HasConditions,
{
    eventually(&format!("{name} Ready reason {reason}"), Duration::from_secs(30), || async {
        let object = api.get(name).await.ok()?;
        let conditions = object.conditions().to_vec();
        (find_condition(&conditions, "Ready")?.reason == reason).then_some(conditions)
    })
    .await
}

#[tokio::test]
async fn organization_conditions_follow_its_credentials_secret() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "org-credentials").await;
    let operator = RunningOperator::start(cluster.client.clone(), &ns);
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), &ns);

    organizations.create(&PostParams::default(), &organization("acme", "App", "gh")).await.unwrap();
    let conditions = until_ready_reason(&organizations, "acme", "CredentialsNotFound").await;
    let ready = find_condition(&conditions, "Ready").unwrap();
    assert_eq!(ready.status, ConditionStatus::False);
    assert_eq!(ready.observed_generation, Some(1));
    assert!(find_condition(&conditions, "Stalled").is_none(), "a missing Secret is waited for, not stalled");

    // The Secret appears, but lacks keys and has a malformed id: the object stalls, naming what is wrong, and no
    // value of the Secret appears anywhere in its status.
    let private_key_text = "-----BEGIN RSA PRIVATE KEY-----\nsecret-material\n-----END RSA PRIVATE KEY-----\n";
    secrets.create(&PostParams::default(), &secret("gh", &[("appId", "not-a-number")])).await.unwrap();
    let conditions = until_ready_reason(&organizations, "acme", "CredentialsIncomplete").await;
    let stalled = find_condition(&conditions, "Stalled").expect("Stalled is set");
    assert_eq!(stalled.status, ConditionStatus::True);
    assert!(stalled.message.contains("\"installationId\", \"privateKey\""), "{}", stalled.message);

    let patch = json!({ "stringData": { "installationId": "42", "privateKey": private_key_text } });
    secrets.patch("gh", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let conditions = until_ready_reason(&organizations, "acme", "CredentialsMalformed").await;
    assert!(find_condition(&conditions, "Stalled").unwrap().message.contains("\"appId\""));

    // Every key is there and well formed, so discovery starts; the private key is no usable RSA key, which
    // discovery reports as an authentication failure, still without a byte of the key.
    let patch = json!({ "stringData": { "appId": "98765432101" } });
    secrets.patch("gh", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let conditions = until_ready_reason(&organizations, "acme", "GitHubAuth").await;
    assert!(find_condition(&conditions, "Stalled").is_none(), "fixing the Secret clears Stalled");
    let ready = find_condition(&conditions, "Ready").unwrap();
    assert_eq!(ready.status, ConditionStatus::False);
    assert!(ready.message.starts_with("Listing the repositories of acme failed"), "{}", ready.message);

    assert_no_secret_leaks(&cluster.client, &ns, &["secret-material", "98765432101", "not-a-number"], &[]).await;

    // Every Ready transition was announced with an Event about the Organization.
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), &ns);
    let reasons = eventually("four Events", Duration::from_secs(10), || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        let mut reasons: Vec<String> = list
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("acme"))
            .filter_map(|e| e.reason)
            .collect();
        reasons.sort();
        (reasons.len() >= 4).then_some(reasons)
    })
    .await;
    assert_eq!(reasons, ["CredentialsIncomplete", "CredentialsMalformed", "CredentialsNotFound", "GitHubAuth"]);
    operator.shutdown().await;
}

#[tokio::test]
async fn objects_wait_for_their_organization_and_wake_when_it_appears() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "org-ref").await;
    let operator = RunningOperator::start(cluster.client.clone(), &ns);
    let plans: Api<BuildPlan> = Api::namespaced(cluster.client.clone(), &ns);
    let repositories: Api<Repository> = Api::namespaced(cluster.client.clone(), &ns);
    let policies: Api<HealingPolicy> = Api::namespaced(cluster.client.clone(), &ns);
    let org_ref = json!({ "name": "acme" });
    let create = |kind: &str, spec: serde_json::Value| {
        json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1",
            "kind": kind,
            "metadata": { "name": "thing" },
            "spec": spec,
        })
    };
    plans
        .create(
            &PostParams::default(),
            &serde_json::from_value(create("BuildPlan", json!({ "organizationRef": org_ref }))).unwrap(),
        )
        .await
        .unwrap();
    repositories
        .create(
            &PostParams::default(),
            &serde_json::from_value(create("Repository", json!({ "organizationRef": org_ref, "name": "core" })))
                .unwrap(),
        )
        .await
        .unwrap();
    policies
        .create(
            &PostParams::default(),
            &serde_json::from_value(create("HealingPolicy", json!({ "organizationRef": org_ref }))).unwrap(),
        )
        .await
        .unwrap();
    until_ready_reason(&plans, "thing", "OrganizationNotFound").await;
    until_ready_reason(&repositories, "thing", "OrganizationNotFound").await;
    until_ready_reason(&policies, "thing", "OrganizationNotFound").await;

    // The objects requeue only every two minutes while waiting, so reaching OrganizationFound within 30 s shows that
    // the Organization's arrival woke them.
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    organizations.create(&PostParams::default(), &organization("acme", "Token", "gh")).await.unwrap();
    let conditions = until_ready_reason(&plans, "thing", "OrganizationFound").await;
    assert_eq!(find_condition(&conditions, "Ready").unwrap().status, ConditionStatus::Unknown);
    until_ready_reason(&repositories, "thing", "OrganizationFound").await;
    until_ready_reason(&policies, "thing", "OrganizationFound").await;

    let plan = plans.get("thing").await.unwrap();
    assert_eq!(plan.status.unwrap().observed_generation, plan.metadata.generation);
    operator.shutdown().await;
}

#[tokio::test]
async fn a_token_organization_names_its_missing_key_and_waits_again_once_its_secret_is_deleted() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "org-token").await;
    let operator = RunningOperator::start(cluster.client.clone(), &ns);
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), &ns);

    // GitHub is a closed local port, so that getting past the credentials shows at once as a failed connection.
    let mut org = organization("acme", "Token", "gh");
    org.spec.api_url = "http://127.0.0.1:9".into();
    organizations.create(&PostParams::default(), &org).await.unwrap();
    let conditions = until_ready_reason(&organizations, "acme", "CredentialsNotFound").await;
    assert!(find_condition(&conditions, "Ready").unwrap().message.contains("\"gh\""));

    // A Secret whose token is empty lacks it, as much as one without the key.
    let webhook_secret = "webhook-secret-of-the-token-org";
    secrets
        .create(&PostParams::default(), &secret("gh", &[("token", ""), ("webhookSecret", webhook_secret)]))
        .await
        .unwrap();
    let conditions = until_ready_reason(&organizations, "acme", "CredentialsIncomplete").await;
    let stalled = find_condition(&conditions, "Stalled").expect("Stalled is set");
    assert!(stalled.message.contains("lacks key \"token\""), "{}", stalled.message);
    assert!(stalled.message.ends_with("spec.credentials.type Token"), "names the credential type: {}", stalled.message);

    // With a token the Organization gets past its prerequisites (to GitHub, which refuses connections); when the Secret
    // is deleted it waits for it again instead of keeping a credential it no longer has.
    let token = "ghp_token-value-that-must-never-show";
    let patch = json!({ "stringData": { "token": token } });
    secrets.patch("gh", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    eventually("the Organization past its credentials", Duration::from_secs(30), || async {
        let org = organizations.get("acme").await.ok()?;
        let reason = find_condition(org.conditions(), "Ready")?.reason.clone();
        (!reason.starts_with("Credentials")).then_some(())
    })
    .await;
    secrets.delete("gh", &Default::default()).await.unwrap();
    // Secrets are polled, and a failing connection to GitHub retries on its own schedule; the annotation anyone may
    // set asks for a pass now instead of at the next retry.
    let wake =
        json!({ "metadata": { "annotations": { "orchestrator.infinityxone.io/requested-at": "secret-deleted" } } });
    organizations.patch("acme", &PatchParams::default(), &Patch::Merge(&wake)).await.unwrap();
    let conditions = until_ready_reason(&organizations, "acme", "CredentialsNotFound").await;
    assert!(find_condition(&conditions, "Stalled").is_none());

    assert_no_secret_leaks(&cluster.client, &ns, &[token, webhook_secret], &[]).await;
    operator.shutdown().await;
}

#[tokio::test]
async fn objects_notice_their_organization_going_away() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "org-gone").await;
    let operator = RunningOperator::start(cluster.client.clone(), &ns);
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    organizations.create(&PostParams::default(), &organization("acme", "Token", "gh")).await.unwrap();
    let plans: Api<BuildPlan> = Api::namespaced(cluster.client.clone(), &ns);
    let repositories: Api<Repository> = Api::namespaced(cluster.client.clone(), &ns);
    let policies: Api<HealingPolicy> = Api::namespaced(cluster.client.clone(), &ns);
    let object = |kind: &str, spec: serde_json::Value| {
        json!({ "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": kind, "metadata": { "name": "thing" },
            "spec": spec })
    };
    let org_ref = json!({ "name": "acme" });
    let plan = object("BuildPlan", json!({ "organizationRef": org_ref }));
    plans.create(&PostParams::default(), &serde_json::from_value(plan).unwrap()).await.unwrap();
    let repository = object("Repository", json!({ "organizationRef": org_ref, "name": "core" }));
    repositories.create(&PostParams::default(), &serde_json::from_value(repository).unwrap()).await.unwrap();
    let policy = object("HealingPolicy", json!({ "organizationRef": org_ref }));
    policies.create(&PostParams::default(), &serde_json::from_value(policy).unwrap()).await.unwrap();
    until_ready_reason(&plans, "thing", "OrganizationFound").await;
    until_ready_reason(&repositories, "thing", "OrganizationFound").await;
    until_ready_reason(&policies, "thing", "OrganizationFound").await;

    // Deleting the Organization wakes each object that refers to it (they would otherwise look again only at their
    // next requeue, minutes away), and each says what it waits for.
    organizations.delete("acme", &Default::default()).await.unwrap();
    for conditions in [
        until_ready_reason(&plans, "thing", "OrganizationNotFound").await,
        until_ready_reason(&repositories, "thing", "OrganizationNotFound").await,
        until_ready_reason(&policies, "thing", "OrganizationNotFound").await,
    ] {
        let ready = find_condition(&conditions, "Ready").unwrap();
        assert_eq!(ready.status, ConditionStatus::False);
        assert!(ready.message.contains("\"acme\" named by spec.organizationRef"), "{}", ready.message);
        assert!(find_condition(&conditions, "Stalled").is_none(), "a missing Organization is waited for");
    }
    operator.shutdown().await;
}

#[tokio::test]
async fn a_schedule_the_schema_lets_through_but_cron_rejects_stalls_the_plan() {
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "bad-schedule").await;
    let operator = RunningOperator::start(cluster.client.clone(), &ns);
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    organizations.create(&PostParams::default(), &organization("acme", "Token", "gh")).await.unwrap();
    let plans: Api<BuildPlan> = Api::namespaced(cluster.client.clone(), &ns);
    let plan = json!({
        "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "BuildPlan", "metadata": { "name": "nightly" },
        "spec": { "organizationRef": { "name": "acme" }, "schedule": "0 25 * * *" },
    });
    plans
        .create(&PostParams::default(), &serde_json::from_value(plan).unwrap())
        .await
        .expect("five fields pass the schema");
    let conditions = until_ready_reason(&plans, "nightly", "InvalidSchedule").await;
    let stalled = find_condition(&conditions, "Stalled").expect("Stalled");
    assert_eq!(stalled.status, ConditionStatus::True);
    assert!(stalled.message.contains("spec.schedule") && stalled.message.contains("hour field"), "{}", stalled.message);

    let fix = json!({ "spec": { "schedule": "0 2 * * *" } });
    plans.patch("nightly", &PatchParams::default(), &Patch::Merge(&fix)).await.unwrap();
    let conditions = until_ready_reason(&plans, "nightly", "OrganizationFound").await;
    assert!(find_condition(&conditions, "Stalled").is_none());
    assert_eq!(find_condition(&conditions, "Ready").unwrap().observed_generation, Some(2));
    operator.shutdown().await;
}

#[tokio::test]
async fn the_secret_leak_scan_bites() {
    use futures::FutureExt;
    let cluster = cluster().await;
    let ns = namespace(&cluster.client, "leak-scan").await;
    let organizations: Api<Organization> = Api::namespaced(cluster.client.clone(), &ns);
    let mut org = organization("acme", "Token", "gh");
    org.metadata.annotations = Some([("note".to_string(), "oops leaked-secret-value".to_string())].into());
    organizations.create(&PostParams::default(), &org).await.unwrap();
    let scan = assert_no_secret_leaks(&cluster.client, &ns, &["leaked-secret-value"], &[]);
    let outcome = std::panic::AssertUnwindSafe(scan).catch_unwind().await;
    let message = outcome.expect_err("the scan must fail on a leaked value");
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("a secret leaked into Organization acme"), "{message}");
    // And it passes on the same namespace for a value that is nowhere.
    assert_no_secret_leaks(&cluster.client, &ns, &["value-that-is-nowhere"], &[]).await;
}
