//! The labels, annotations, finalizers and workflow input the operator's API defines (Kubernetes calls such keys
//! well-known): people and tools set or read them on our objects, so every layer names them from here.

/// Annotation whose change wakes an object's controller; also settable by hand to force a reconcile.
pub const REQUESTED_AT: &str = "orchestrator.infinityxone.io/requested-at";

/// Annotation naming the webhook delivery that last woke the object.
pub const REQUESTED_BY: &str = "orchestrator.infinityxone.io/requested-by";

/// How [`REQUESTED_BY`]'s value starts when a GitHub webhook delivery woke the object: `github-delivery/<guid>`.
pub const GITHUB_DELIVERY_PREFIX: &str = "github-delivery/";

/// The annotation by which a person confirms the removals a discovery pass held: any new value carries them out
/// once (the value handled is kept in `status.lastPruneConfirmation`).
pub const CONFIRM_PRUNE_ANNOTATION: &str = "orchestrator.infinityxone.io/confirm-prune";

/// The label naming the Organization object an operator-created object belongs to.
pub const ORGANIZATION_LABEL: &str = "orchestrator.infinityxone.io/organization";

/// The label that assigns an Organization to an operator shard (`--shard NAME`), copied onto the Repository objects
/// of that Organization. An operator started without `--shard` owns the Organizations without it.
pub const SHARD_LABEL: &str = "orchestrator.infinityxone.io/shard";

/// The label on every object the operator creates, valued with its field manager name, `infinity-orchestrator`.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// Label prefix under which a Repository carries its GitHub topics (`topic.orchestrator.infinityxone.io/NAME`).
pub const TOPIC_LABEL_PREFIX: &str = "topic.orchestrator.infinityxone.io/";

/// Label carrying a Repository's language.
pub const LANGUAGE_LABEL: &str = "orchestrator.infinityxone.io/language";

/// The finalizer that holds a deleted BuildPlan until its runs in flight are cancelled.
pub const BUILD_PLAN_FINALIZER: &str = "orchestrator.infinityxone.io/cancel-runs";

/// The name of the `workflow_dispatch` input that carries a dispatch's correlation id, to find the run it started:
/// the orchestrator's workflows render it into `run-name`, so the run's `display_title` contains it.
pub const CORRELATION_INPUT: &str = "correlation_id";
