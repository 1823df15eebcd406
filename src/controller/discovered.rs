//! Discovery's findings on their way to the Repository controller. Discovery hands each Repository's discovered
//! status over instead of writing it, and the Repository controller writes it together with its own part in one
//! request: the status of a Repository has one writer and one field manager, and a new organization costs one
//! status write per repository instead of two (at 10,000 repositories the API server's CPU goes mostly to status
//! writes). A part stays here after it is written, until the controller's cache shows it, so that a reconcile on
//! an older copy of the object does not write back what discovery said before.

use std::sync::Arc;

use futures::channel::oneshot;
use futures::{Stream, StreamExt};
use kube::runtime::reflector::ObjectRef;
use serde::Serialize;

use super::cache::Changed;
use super::memo::Memo;
use super::wakes::Wakes;
use crate::crd::condition::{find_condition, Condition};
use crate::crd::repository::RepositoryStatus;
use crate::crd::Repository;
use crate::plan::discovery_pass::{DiscoveredStatus, DETECTION_WARNING, DISCOVERED};

/// The conditions discovery decides.
pub const DISCOVERY_CONDITIONS: &[&str] = &[DISCOVERED, DETECTION_WARNING];

/// What discovery says of one Repository: the discovered fields and the `Discovered` and `DetectionWarning`
/// conditions.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DiscoveredPart {
    /// The discovered fields.
    #[serde(flatten)]
    pub fields: DiscoveredStatus,
    /// `Discovered`, then `DetectionWarning` when there is one.
    pub conditions: Vec<Condition>,
}

impl DiscoveredPart {
    /// What `repo`'s status says of discovery's part now.
    pub fn of(repo: &Repository) -> Self {
        let none = RepositoryStatus::default();
        let status = repo.status.as_ref().unwrap_or(&none);
        let conditions = DISCOVERY_CONDITIONS.iter().filter_map(|t| find_condition(&status.conditions, t)).cloned();
        DiscoveredPart { fields: DiscoveredStatus::of(status), conditions: conditions.collect() }
    }

    /// `status` with this part in place of discovery's fields and conditions.
    pub fn applied_to(&self, status: &RepositoryStatus) -> RepositoryStatus {
        let fields = &self.fields;
        let own = status.conditions.iter().filter(|c| !DISCOVERY_CONDITIONS.contains(&c.r#type.as_str())).cloned();
        RepositoryStatus {
            conditions: self.conditions.iter().cloned().chain(own).collect(),
            full_name: (!fields.full_name.is_empty()).then(|| fields.full_name.clone()),
            html_url: fields.html_url.clone(),
            language: fields.language.clone(),
            build_systems: fields.build_systems.clone(),
            build_command: fields.build_command.clone(),
            test_command: fields.test_command.clone(),
            build_workflow: fields.build_workflow.clone(),
            build_workflow_inputs: fields.build_workflow_inputs.clone(),
            build_workflow_unread: fields.build_workflow_unread,
            workflow_commands_outdated: fields.workflow_commands_outdated,
            topics: fields.topics.clone(),
            archived: fields.archived,
            default_branch: fields.default_branch.clone(),
            head_sha: fields.head_sha.clone(),
            dependencies: fields.dependencies.clone(),
            onboarding_pull_request: fields.onboarding_pull_request.clone(),
            ..status.clone()
        }
    }
}

/// One Repository's part between discovery and its write.
#[derive(Debug)]
enum Handed {
    /// Waiting for the Repository controller to write it, with the discovery passes waiting for the write, and the
    /// uid of the object it was handed over for (when known).
    Unwritten { part: Box<DiscoveredPart>, waiters: Vec<oneshot::Sender<()>>, uid: Option<String> },
    /// Written, not yet seen in the cache: only its digest is kept (at 10,000 repositories the parts themselves
    /// would hold 10 MiB for nothing).
    Written { digest: u64 },
}

/// What a reconcile is to make of the part handed over for its object.
#[derive(Debug, PartialEq)]
pub enum Overlay {
    /// Nothing handed over, or the object shows it: the object as it is.
    None,
    /// This part, not yet written: to be written with the reconcile's own.
    Unwritten(Box<DiscoveredPart>),
    /// Written, and this copy of the object is older than the write: its watch event is on its way.
    Stale,
}

/// A digest of `part`, to tell later whether a copy of the object shows it.
fn digest(part: &DiscoveredPart) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(part).unwrap_or_default().hash(&mut hasher);
    hasher.finish()
}

/// The parts discovery handed over and the Repository controller has not yet seen in its cache.
#[derive(Default)]
pub struct DiscoveredHandover {
    parts: Memo<ObjectRef<Repository>, Handed>,
    wakes: Wakes<Repository>,
}

impl DiscoveredHandover {
    /// Hands `part` over for `object` and wakes its reconcile. The receiver completes once the part is written, or
    /// once it never will be (the object is gone, or the Repository controller stopped). `None` when no Repository
    /// controller listens in this process.
    pub fn hand_over(&self, object: ObjectRef<Repository>, part: DiscoveredPart) -> Option<oneshot::Receiver<()>> {
        let (sender, receiver) = oneshot::channel();
        let uid = object.extra.uid.clone();
        {
            let mut parts = self.parts.lock();
            match parts.get_mut(&object) {
                // Written already: nothing to wait for (the sender is dropped).
                Some(Handed::Written { digest: written }) if *written == digest(&part) => {}
                Some(Handed::Unwritten { part: held, waiters, uid: held_for }) => {
                    **held = part;
                    waiters.push(sender);
                    *held_for = uid;
                }
                _ => {
                    let handed = Handed::Unwritten { part: Box::new(part), waiters: vec![sender], uid };
                    parts.insert(object.clone(), handed);
                }
            }
        }
        if !self.wakes.wake(object.clone()) {
            self.release(&object);
            return None;
        }
        Some(receiver)
    }

    /// Whether `repo` says `part` already, or will once the part handed over for it is written.
    pub fn says(&self, repo: &Repository, part: &DiscoveredPart) -> bool {
        match self.parts.lock().get(&ObjectRef::from_obj(repo)) {
            Some(Handed::Unwritten { part: held, .. }) => **held == *part,
            Some(Handed::Written { digest: written }) => *written == digest(part),
            None => DiscoveredPart::of(repo) == *part,
        }
    }

    /// What a reconcile of this copy of `repo` is to make of the part handed over for it. An entry the copy shows
    /// is forgotten.
    pub fn overlay(&self, repo: &Repository) -> Overlay {
        let key = ObjectRef::from_obj(repo);
        let mut parts = self.parts.lock();
        match parts.get(&key) {
            None => Overlay::None,
            Some(Handed::Unwritten { part, .. }) => Overlay::Unwritten(part.clone()),
            Some(Handed::Written { digest: written }) if *written == digest(&DiscoveredPart::of(repo)) => {
                parts.remove(&key);
                Overlay::None
            }
            Some(Handed::Written { .. }) => Overlay::Stale,
        }
    }

    /// Records that `part` was written on `object`, and tells the discovery passes waiting for it. A newer part
    /// handed over meanwhile stays to be written.
    pub fn written(&self, object: &ObjectRef<Repository>, part: &DiscoveredPart) {
        let mut parts = self.parts.lock();
        let Some(Handed::Unwritten { part: held, waiters, .. }) = parts.get_mut(object) else { return };
        if **held != *part {
            return;
        }
        for waiter in waiters.drain(..) {
            let _ = waiter.send(());
        }
        parts.insert(object.clone(), Handed::Written { digest: digest(part) });
    }

    /// Forgets what was handed over for `object` (gone, or no longer this process's), releasing its waiters.
    pub fn release(&self, object: &ObjectRef<Repository>) {
        // Dropping the senders completes the receivers.
        self.parts.remove(object);
    }

    /// Releases the waiters of a part handed over for `deleted`, an object the watch saw deleted: no reconcile will
    /// write it. A part handed over for an object of the same name created since (another uid) stays.
    pub fn release_deleted(&self, deleted: &Repository) {
        let key = ObjectRef::from_obj(deleted);
        let mut parts = self.parts.lock();
        let Some(Handed::Unwritten { uid, .. }) = parts.get(&key) else { return };
        if uid.is_none() || *uid == deleted.metadata.uid {
            parts.remove(&key);
        }
    }

    /// Forgets everything, releasing every waiter: the Repository controller stopped.
    pub fn release_all(&self) {
        self.parts.lock().clear();
    }

    /// The Repository objects to reconcile because a part was handed over, for `Controller::reconcile_on`.
    pub fn listen(&self) -> impl Stream<Item = ObjectRef<Repository>> + Send + 'static {
        self.wakes.listen()
    }
}

/// Releases the parts handed over for objects `changes` (a cache's changes) shows deleted, until the changes end: no
/// reconcile runs for an object the cache no longer holds, so its part would hold its discovery pass until the
/// pass's limit.
pub async fn release_deleted(handover: Arc<DiscoveredHandover>, changes: impl Stream<Item = Changed<Repository>>) {
    changes
        .for_each(|change| {
            if let Changed::Deleted(repo) = change {
                handover.release_deleted(&repo);
            }
            futures::future::ready(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    use super::*;
    use crate::crd::condition::ConditionStatus;

    fn repository(head: Option<&str>) -> Repository {
        with_uid(head, "uid-1")
    }

    fn with_uid(head: Option<&str>, uid: &str) -> Repository {
        let status = head.map(|head| json!({ "fullName": "acme/api", "headSha": head }));
        serde_json::from_value(json!({
            "apiVersion": "orchestrator.infinityxone.io/v1alpha1", "kind": "Repository",
            "metadata": { "name": "api", "namespace": "ns", "uid": uid },
            "spec": { "organizationRef": { "name": "acme" }, "name": "api" },
            "status": status,
        }))
        .unwrap()
    }

    fn part(head: &str) -> DiscoveredPart {
        let at = Time(Timestamp::from_second(1_000_000).unwrap());
        let found = Condition::new(DISCOVERED, ConditionStatus::True, "FoundOnGitHub", "", None, at);
        let fields =
            DiscoveredStatus { full_name: "acme/api".into(), head_sha: Some(head.into()), ..Default::default() };
        DiscoveredPart { fields, conditions: vec![found] }
    }

    /// `part` as the object says it once written.
    fn showing(part: &DiscoveredPart) -> Repository {
        let mut repo = repository(None);
        repo.status = Some(part.applied_to(&RepositoryStatus::default()));
        repo
    }

    #[tokio::test]
    async fn a_handed_over_part_overlays_the_object_until_the_cache_shows_it_written() {
        let handover = DiscoveredHandover::default();
        let mut wakes = handover.listen();
        let (stale, key) = (repository(Some("old")), ObjectRef::from_obj(&repository(None)));
        let mut written = handover.hand_over(key.clone(), part("new")).expect("a listener");
        assert_eq!(wakes.next().await, Some(key.clone()), "the reconcile is woken");
        assert!(handover.says(&stale, &part("new")), "a pass does not hand the same part over again");
        assert!(!handover.says(&stale, &part("newer")));
        assert_eq!(handover.overlay(&stale), Overlay::Unwritten(Box::new(part("new"))));
        assert!(written.try_recv().unwrap().is_none(), "not written yet");

        handover.written(&key, &part("new"));
        assert_eq!(written.try_recv(), Ok(Some(())), "the pass waiting for it goes on");
        assert_eq!(handover.overlay(&stale), Overlay::Stale, "a copy older than the write is not written from");
        assert!(handover.says(&stale, &part("new")), "nor handed over again");
        assert_eq!(handover.overlay(&showing(&part("new"))), Overlay::None, "the cache shows it: forgotten");
        assert_eq!(handover.overlay(&stale), Overlay::None);
        assert!(handover.says(&showing(&part("new")), &part("new")));
    }

    #[tokio::test]
    async fn a_part_handed_over_during_a_write_waits_for_its_own_write() {
        let handover = DiscoveredHandover::default();
        let _wakes = handover.listen();
        let key = ObjectRef::from_obj(&repository(None));
        let mut first = handover.hand_over(key.clone(), part("a")).unwrap();
        let mut second = handover.hand_over(key.clone(), part("b")).unwrap();
        handover.written(&key, &part("a"));
        assert!(second.try_recv().unwrap().is_none(), "the older part's write is not this one's");
        assert_eq!(handover.overlay(&showing(&part("a"))), Overlay::Unwritten(Box::new(part("b"))));
        handover.written(&key, &part("b"));
        assert_eq!((first.try_recv(), second.try_recv()), (Ok(Some(())), Ok(Some(()))));
    }

    #[tokio::test]
    async fn without_a_controller_nothing_is_held_and_a_release_frees_the_waiters() {
        let handover = DiscoveredHandover::default();
        let key = ObjectRef::from_obj(&repository(None));
        assert!(handover.hand_over(key.clone(), part("a")).is_none(), "no Repository controller listens");
        assert_eq!(handover.overlay(&repository(None)), Overlay::None);

        let wakes = handover.listen();
        let mut gone = handover.hand_over(key.clone(), part("a")).unwrap();
        handover.release(&key);
        assert!(gone.try_recv().is_err(), "released: the pass stops waiting");
        let mut stopped = handover.hand_over(key.clone(), part("b")).unwrap();
        handover.release_all();
        assert!(stopped.try_recv().is_err(), "the controller stopped: the pass stops waiting");
        drop(wakes);
        assert!(handover.hand_over(key, part("c")).is_none(), "the listener is gone");
    }

    #[tokio::test]
    async fn a_deleted_object_frees_its_waiters_but_not_those_of_its_successor() {
        let handover = DiscoveredHandover::default();
        let _wakes = handover.listen();
        let (first, second) = (with_uid(None, "uid-1"), with_uid(None, "uid-2"));
        let mut waiting = handover.hand_over(ObjectRef::from_obj(&first), part("a")).unwrap();
        handover.release_deleted(&second);
        assert!(waiting.try_recv().unwrap().is_none(), "another object of that name was deleted");
        handover.release_deleted(&first);
        assert!(waiting.try_recv().is_err(), "its object is gone: the pass stops waiting");

        // Recreated under the same name: the old object's deletion, seen late, leaves the new one's part alone.
        let mut recreated = handover.hand_over(ObjectRef::from_obj(&second), part("b")).unwrap();
        handover.release_deleted(&first);
        assert!(recreated.try_recv().unwrap().is_none());
        assert_eq!(handover.overlay(&second), Overlay::Unwritten(Box::new(part("b"))));
    }
}
