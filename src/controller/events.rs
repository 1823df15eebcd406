//! Publishes Events the way kube's `Recorder` does (a repeat of an Event within six minutes counts in the first
//! one's `series`), remembering only what a repeat needs: kube's keeps a copy of every Event it published for six
//! minutes and scans them all on each publish, which at 10,000 repositories (three Events each when they first
//! become Ready) held 125 MiB and a quadratic amount of work.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::Client;

/// How long a published Event takes repeats into its series (kube's `Recorder` too).
const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);

/// Publishes Events about objects, folding repeats into series.
pub struct EventRecorder {
    client: Client,
    reporter: Reporter,
    published: Mutex<Published>,
}

/// The Events published in the last [`SERIES_WINDOW`], by a hash of what makes a repeat.
#[derive(Default)]
struct Published {
    by_key: HashMap<u64, Told>,
    swept: Option<Timestamp>,
}

/// What a repeat of a published Event needs: its name, its count so far, and when it was last told.
struct Told {
    name: String,
    count: i32,
    last: Timestamp,
}

impl Published {
    /// The Event a repeat at `now` would count in, if one is still within the window.
    fn repeat_of(&self, key: u64, now: Timestamp) -> Option<(String, i32)> {
        let told = self.by_key.get(&key).filter(|told| told.last + SERIES_WINDOW > now)?;
        Some((told.name.clone(), told.count + 1))
    }

    /// Forgets the Events past the window, at most once a minute (a lookup ignores them anyway).
    fn sweep(&mut self, now: Timestamp) {
        if self.swept.is_some_and(|swept| swept + SignedDuration::from_mins(1) > now) {
            return;
        }
        self.by_key.retain(|_, told| told.last + SERIES_WINDOW > now);
        self.swept = Some(now);
    }
}

impl EventRecorder {
    /// A recorder reporting as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        EventRecorder { client, reporter, published: Mutex::default() }
    }

    /// Publishes `event` about `regarding`: a new Event, or the next count of the same one told within six minutes
    /// (same type, action, reason, object and related object).
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let key = key_of(event, regarding);
        let repeat = self.published().repeat_of(key, now);
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        let told = match repeat {
            Some((name, count)) => {
                let series = EventSeries { count, last_observed_time: MicroTime(now) };
                let patch = K8sEvent { series: Some(series), ..K8sEvent::default() };
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
                Told { name, count, last: now }
            }
            None => {
                let created = self.new_event(event, regarding, now);
                api.create(&PostParams::default(), &created).await?;
                Told { name: created.metadata.name.unwrap_or_default(), count: 1, last: now }
            }
        };
        let mut published = self.published();
        published.sweep(now);
        published.by_key.insert(key, told);
        Ok(())
    }

    fn published(&self) -> MutexGuard<'_, Published> {
        self.published.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The Event as kube's `Recorder` writes it, named after the object and the time.
    fn new_event(&self, event: &Event, regarding: &ObjectReference, now: Timestamp) -> K8sEvent {
        let controller = &self.reporter.controller;
        let name = format!("{}.{:x}", regarding.name.as_ref().unwrap_or(controller), now.as_nanosecond());
        K8sEvent {
            action: Some(event.action.clone()),
            reason: Some(event.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            note: event.note.clone(),
            metadata: ObjectMeta { namespace: regarding.namespace.clone(), name: Some(name), ..ObjectMeta::default() },
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(self.reporter.instance.clone().unwrap_or_else(|| controller.clone())),
            type_: Some(type_name(event.type_).to_owned()),
            related: event.secondary.clone(),
            ..K8sEvent::default()
        }
    }
}

fn type_name(event_type: EventType) -> &'static str {
    match event_type {
        EventType::Normal => "Normal",
        EventType::Warning => "Warning",
    }
}

/// What makes an Event a repeat of another: its type, action and reason, and the objects it is about (the
/// reporter is the same for every Event of a recorder).
fn key_of(event: &Event, regarding: &ObjectReference) -> u64 {
    let mut hasher = DefaultHasher::new();
    (type_name(event.type_), &event.action, &event.reason).hash(&mut hasher);
    for reference in std::iter::once(regarding).chain(event.secondary.as_ref()) {
        (&reference.api_version, &reference.kind, &reference.namespace, &reference.name, &reference.uid)
            .hash(&mut hasher);
    }
    event.secondary.is_some().hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reason: &str, related: Option<&str>) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some("a note".into()),
            action: "Reconcile".into(),
            secondary: related.map(|name| ObjectReference { name: Some(name.into()), ..ObjectReference::default() }),
        }
    }

    fn object(name: &str) -> ObjectReference {
        ObjectReference { name: Some(name.into()), namespace: Some("ns".into()), ..ObjectReference::default() }
    }

    #[test]
    fn a_repeat_is_the_same_reason_about_the_same_objects() {
        let key = key_of(&event("Ready", None), &object("api"));
        assert_eq!(key, key_of(&event("Ready", None), &object("api")), "a different note is still a repeat");
        assert_ne!(key, key_of(&event("Healthy", None), &object("api")));
        assert_ne!(key, key_of(&event("Ready", None), &object("web")));
        let about_run = |run| key_of(&event("Ready", Some(run)), &object("api"));
        assert_ne!(key, about_run("run-1"));
        assert_ne!(about_run("run-1"), about_run("run-2"));
    }

    #[test]
    fn a_repeat_counts_in_the_series_within_six_minutes_only() {
        let t0 = Timestamp::from_second(1_000_000).unwrap();
        let later = |seconds: i64| t0 + SignedDuration::from_secs(seconds);
        let mut published = Published::default();
        published.by_key.insert(7, Told { name: "api.1".into(), count: 1, last: t0 });
        assert_eq!(published.repeat_of(7, later(300)), Some(("api.1".into(), 2)));
        assert_eq!(published.repeat_of(7, later(360)), None, "past the window: a new Event");
        assert_eq!(published.repeat_of(8, later(60)), None);
        published.sweep(later(350));
        assert_eq!(published.by_key.len(), 1, "still within the window");
        published.sweep(later(370));
        assert_eq!(published.by_key.len(), 1, "swept at most once a minute");
        published.sweep(later(410));
        assert!(published.by_key.is_empty());
    }
}
