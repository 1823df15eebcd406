//! The indexes the webhook receiver finds objects by, each filled by a watch of its own: a delivery then costs a
//! lookup of the objects it concerns, not a LIST of every object of the organization. An index keeps only what the
//! receiver reads of each object (a few names), not the object: at 10,000 repositories a second cache of whole
//! Repository objects beside the controllers' would cost tens of MiB, the keys about one.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, WatchStreamExt};
use kube::Resource;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

/// What is filed for objects by key: each object (by its `Id`) under at most one key.
#[derive(Debug)]
pub struct KeyIndex<Key, Id, Value> {
    by_key: HashMap<Key, HashMap<Id, Value>>,
    key_of: HashMap<Id, Key>,
}

impl<Key, Id, Value> Default for KeyIndex<Key, Id, Value> {
    fn default() -> Self {
        KeyIndex { by_key: HashMap::new(), key_of: HashMap::new() }
    }
}

impl<Key: Clone + Eq + Hash, Id: Clone + Eq + Hash, Value: Clone> KeyIndex<Key, Id, Value> {
    /// Files `value` for `object` under `key` alone, wherever it was before; `None` forgets the object.
    pub fn set(&mut self, object: Id, entry: Option<(Key, Value)>) {
        self.remove(&object);
        if let Some((key, value)) = entry {
            self.by_key.entry(key.clone()).or_default().insert(object.clone(), value);
            self.key_of.insert(object, key);
        }
    }

    /// Forgets `object`.
    pub fn remove(&mut self, object: &Id) {
        let Some(key) = self.key_of.remove(object) else { return };
        if let Some(objects) = self.by_key.get_mut(&key) {
            objects.remove(object);
            if objects.is_empty() {
                self.by_key.remove(&key);
            }
        }
    }

    /// Files exactly `objects`, forgetting every other.
    pub fn replace_all(&mut self, objects: impl IntoIterator<Item = (Id, Option<(Key, Value)>)>) {
        self.by_key.clear();
        self.key_of.clear();
        for (object, entry) in objects {
            self.set(object, entry);
        }
    }

    /// What is filed under `key`.
    pub fn get(&self, key: &Key) -> Vec<Value> {
        self.by_key.get(key).map(|objects| objects.values().cloned().collect()).unwrap_or_default()
    }
}

/// An index of one kind's objects, filled by a watch.
pub struct WatchedIndex<K: Resource<DynamicType = ()> + 'static, Key, Value> {
    index: Arc<RwLock<KeyIndex<Key, ObjectRef<K>, Value>>>,
    filled: watch::Receiver<bool>,
}

impl<K, Key, Value> WatchedIndex<K, Key, Value>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    Key: Clone + Eq + Hash + Send + Sync + 'static,
    Value: Clone + Send + Sync + 'static,
{
    /// The index of `api`'s objects that `config` selects, each filed as `entry` says (not at all when `None`), and
    /// the watch that fills it: run it for as long as the index is read.
    pub fn new(
        api: Api<K>,
        config: watcher::Config,
        entry: fn(&K) -> Option<(Key, Value)>,
    ) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let index: Arc<RwLock<KeyIndex<Key, ObjectRef<K>, Value>>> = Arc::default();
        let (filled_tx, filled) = watch::channel(false);
        let filed = move |object: &K| (ObjectRef::from_obj(object), entry(object));
        let upkeep = {
            let index = index.clone();
            let mut listed = Vec::new();
            watcher(api, config).default_backoff().for_each(move |event| {
                let write = || index.write().unwrap_or_else(|p| p.into_inner());
                match event {
                    Ok(watcher::Event::Apply(object)) => {
                        let (object, entry) = filed(&object);
                        write().set(object, entry);
                    }
                    Ok(watcher::Event::Delete(object)) => write().remove(&ObjectRef::from_obj(&object)),
                    Ok(watcher::Event::Init) => listed.clear(),
                    Ok(watcher::Event::InitApply(object)) => listed.push(filed(&object)),
                    Ok(watcher::Event::InitDone) => {
                        write().replace_all(listed.drain(..));
                        filled_tx.send_replace(true);
                    }
                    Err(error) => tracing::warn!(%error, kind = %K::kind(&()), "webhook receiver's watch failed"),
                }
                futures::future::ready(())
            })
        };
        (WatchedIndex { index, filled }, upkeep)
    }

    /// What is filed under `key` now.
    pub fn get(&self, key: &Key) -> Vec<Value> {
        self.index.read().unwrap_or_else(|p| p.into_inner()).get(key)
    }

    /// Waits until the first full list is filed, or the watch is gone.
    pub async fn filled(&self) {
        let mut filled = self.filled.clone();
        let _ = filled.wait_for(|filled| *filled).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_found_under_its_latest_key_only() {
        let mut index = KeyIndex::default();
        index.set("core", Some(("acme", 1)));
        index.set("web", Some(("acme", 2)));
        index.set("tool", Some(("other", 3)));
        let mut acme = index.get(&"acme");
        acme.sort();
        assert_eq!(acme, [1, 2]);
        index.set("web", Some(("other", 4)));
        assert_eq!(index.get(&"acme"), [1], "moved to another key");
        index.set("core", None);
        assert!(index.get(&"acme").is_empty());
        assert_eq!(index.by_key.len(), 1, "a key with nothing filed under it is gone");
        index.remove(&"tool");
        assert_eq!(index.get(&"other"), [4], "the value of the latest filing");
        index.remove(&"not-filed");
    }

    #[test]
    fn replacing_all_forgets_what_is_not_listed() {
        let mut index = KeyIndex::default();
        index.set("core", Some(("acme", 1)));
        index.replace_all([("web", Some(("acme", 2))), ("unfiled", None)]);
        assert_eq!(index.get(&"acme"), [2]);
        assert_eq!(index.key_of.len(), 1);
    }
}
