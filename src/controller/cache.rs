//! Watch caches that controllers share, and that any number of reconciles may wait on.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use futures::{Stream, StreamExt, TryStreamExt};
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};

/// How many changes a subscriber may fall behind before it is told that anything may have changed.
const CHANGES_BUFFER: usize = 1024;

/// A watch cache of one kind's objects. Cached objects go without `managedFields`: server-side apply's
/// bookkeeping, read by no reconcile and a large share of each object (three field managers write a Repository).
#[derive(Clone)]
pub struct Cache<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    filled: watch::Receiver<bool>,
    changed: broadcast::Sender<Changed<K>>,
}

/// What changed in a cache, as told to its subscribers. The cache holds the change by then.
#[derive(Clone, Debug)]
pub enum Changed<K: Resource<DynamicType = ()>> {
    /// This object was created or changed.
    Object(ObjectRef<K>),
    /// This object was deleted, as it last was (the cache no longer holds it).
    Deleted(Arc<K>),
    /// Anything may have changed: the cache was listed afresh, or the subscriber fell behind.
    Anything,
}

impl<K> Cache<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    /// The cache of `api`'s objects, and the stream of changes that fills it: poll the stream (a controller's
    /// trigger, or [`run_beside`]), or the cache stays empty.
    pub fn new(api: Api<K>) -> (Self, impl Stream<Item = Result<K, watcher::Error>> + Send + 'static) {
        Self::selected(api, watcher::Config::default())
    }

    /// Like [`Cache::new`], of the objects `config` selects: the API server filters, so the others cost nothing.
    pub fn selected(
        api: Api<K>,
        config: watcher::Config,
    ) -> (Self, impl Stream<Item = Result<K, watcher::Error>> + Send + 'static) {
        let (store, writer) = reflector::store();
        let (filled_tx, filled) = watch::channel(false);
        let (changed, _) = broadcast::channel(CHANGES_BUFFER);
        let tell = changed.clone();
        let changes = watcher(api, config)
            .modify(|object: &mut K| object.managed_fields_mut().clear())
            .default_backoff()
            .reflect(writer)
            .inspect_ok(move |event| match event {
                watcher::Event::InitDone => {
                    filled_tx.send_replace(true);
                    let _ = tell.send(Changed::Anything);
                }
                // Sending fails only when nobody listens.
                watcher::Event::Apply(object) if tell.receiver_count() > 0 => {
                    let _ = tell.send(Changed::Object(ObjectRef::from_obj(object)));
                }
                watcher::Event::Delete(object) if tell.receiver_count() > 0 => {
                    let _ = tell.send(Changed::Deleted(Arc::new(object.clone())));
                }
                _ => {}
            })
            .applied_objects();
        (Cache { store, filled, changed }, changes)
    }

    /// The changes from now on, each told once the cache holds it; only while the cache's stream is polled.
    pub fn changes(&self) -> impl Stream<Item = Changed<K>> + Send + 'static {
        futures::stream::unfold(self.changed.subscribe(), |mut changes| async move {
            let change = match changes.recv().await {
                Ok(change) => change,
                Err(broadcast::error::RecvError::Lagged(_)) => Changed::Anything,
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((change, changes))
        })
    }

    /// The objects.
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Waits until the first full list is in the cache, or its stream is gone. Unlike
    /// [`Store::wait_until_ready`], which wakes only the last task that waited, any number of reconciles may
    /// wait at once.
    pub async fn filled(&self) {
        let mut filled = self.filled.clone();
        let _ = filled.wait_for(|filled| *filled).await;
    }
}

/// Runs `work` while polling `changes` beside it, until the work ends (a cache's stream has no end of its own).
pub async fn run_beside<K>(changes: impl Stream<Item = Result<K, watcher::Error>>, work: impl Future<Output = ()>) {
    let cache = changes.for_each(|_| futures::future::ready(()));
    futures::pin_mut!(work, cache);
    futures::future::select(work, cache).await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;

    #[tokio::test]
    async fn every_waiting_task_wakes_when_the_cache_is_filled() {
        let (filled_tx, filled) = watch::channel(false);
        let cache = Cache::<ConfigMap> { store: reflector::store().0, filled, changed: broadcast::channel(4).0 };
        // Separate tasks, as the reconciles of a controller are: `Store::wait_until_ready` would wake only one.
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.filled().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(waiters.iter().all(|waiter| !waiter.is_finished()), "nobody is through before the cache is filled");
        filled_tx.send_replace(true);
        for waiter in waiters {
            tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("every waiter wakes").unwrap();
        }
        tokio::time::timeout(Duration::from_secs(5), cache.filled()).await.expect("a later wait returns at once");
    }

    #[tokio::test]
    async fn a_subscriber_hears_each_change_and_anything_once_it_fell_behind() {
        let (changed, _) = broadcast::channel(2);
        let cache = Cache::<ConfigMap> { store: reflector::store().0, filled: watch::channel(false).1, changed };
        let mut changes = Box::pin(cache.changes());
        let object = |name: &str| ObjectRef::<ConfigMap>::new(name).within("ns");
        cache.changed.send(Changed::Object(object("a"))).unwrap();
        assert!(matches!(changes.next().await, Some(Changed::Object(o)) if o == object("a")));
        for name in ["b", "c", "d"] {
            cache.changed.send(Changed::Object(object(name))).unwrap();
        }
        // "b" was overwritten: what was missed is told as "anything", then the changes still held follow.
        assert!(matches!(changes.next().await, Some(Changed::Anything)));
        assert!(matches!(changes.next().await, Some(Changed::Object(o)) if o == object("c")));
        assert!(matches!(changes.next().await, Some(Changed::Object(o)) if o == object("d")));
    }

    #[tokio::test]
    async fn waiting_ends_when_the_stream_filling_the_cache_is_gone() {
        let (filled_tx, filled) = watch::channel(false);
        let cache = Cache::<ConfigMap> { store: reflector::store().0, filled, changed: broadcast::channel(4).0 };
        drop(filled_tx);
        tokio::time::timeout(Duration::from_secs(5), cache.filled())
            .await
            .expect("no wait for a cache that cannot fill");
    }
}
