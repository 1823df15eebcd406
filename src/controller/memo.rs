//! What a controller remembers between reconciles in this process (when it last read, what it waits for): one
//! small map behind a lock, shared by the reconciles of one controller. Lost on restart by design: each use says
//! what it falls back on.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// A map that reconciles running at once share. A reconcile that panicked while holding the lock leaves the map
/// as it was, and the others go on with it.
#[derive(Debug)]
pub struct Memo<K, V>(Mutex<HashMap<K, V>>);

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash, V> Memo<K, V> {
    /// A copy of what is remembered for `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
        V: Clone,
    {
        self.lock().get(key).cloned()
    }

    /// Remembers `value` for `key`, returning what it replaces.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.lock().insert(key, value)
    }

    /// Forgets `key`.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.lock().remove(key)
    }

    /// The map itself, for reads and changes that must see it whole.
    pub fn lock(&self) -> MutexGuard<'_, HashMap<K, V>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::Memo;

    #[test]
    fn remembers_replaces_and_forgets() {
        let memo = Memo::default();
        assert_eq!(memo.insert("a", 1), None);
        assert_eq!(memo.insert("a", 2), Some(1));
        assert_eq!(memo.get(&"a"), Some(2));
        assert_eq!(memo.remove(&"a"), Some(2));
        assert_eq!(memo.get(&"a"), None);
    }

    #[test]
    fn a_panic_while_holding_the_lock_loses_nothing_remembered() {
        let memo = std::sync::Arc::new(Memo::default());
        memo.insert("kept", 1);
        let held = memo.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.lock();
            panic!("a reconcile panicked");
        })
        .join();
        assert_eq!(memo.get(&"kept"), Some(1));
    }
}
