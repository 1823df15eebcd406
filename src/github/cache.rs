//! A bounded ETag / Last-Modified cache for conditional reads: an unchanged resource comes back 304, which GitHub
//! does not count against the primary rate limit, and we reuse the body we kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What identifies a cached read: the credential (different credentials may see different bodies) and the URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// A non-secret identifier of the credential.
    pub credential: String,
    /// The full request URL, query included.
    pub url: String,
}

/// A response kept for revalidation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedResponse {
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The `Last-Modified` header.
    pub last_modified: Option<String>,
    /// The `Link` header, so a 304 page still knows its next page.
    pub link: Option<String>,
    /// The body.
    pub body: Arc<str>,
}

impl CachedResponse {
    fn weight(&self, key: &CacheKey) -> usize {
        self.body.len()
            + key.url.len()
            + key.credential.len()
            + self.etag.as_ref().map_or(0, String::len)
            + self.last_modified.as_ref().map_or(0, String::len)
            + self.link.as_ref().map_or(0, String::len)
    }
}

/// Least-recently-used cache bounded by total bytes kept.
#[derive(Debug)]
pub struct EtagCache {
    capacity_bytes: usize,
    used_bytes: usize,
    tick: u64,
    entries: HashMap<CacheKey, (CachedResponse, u64)>,
    /// Last-use tick → key, to find the least recently used entry.
    recency: BTreeMap<u64, CacheKey>,
}

impl EtagCache {
    /// A cache keeping at most `capacity_bytes` of bodies and headers.
    pub fn new(capacity_bytes: usize) -> Self {
        EtagCache { capacity_bytes, used_bytes: 0, tick: 0, entries: HashMap::new(), recency: BTreeMap::new() }
    }

    /// The entry for `key`, marking it recently used.
    pub fn get(&mut self, key: &CacheKey) -> Option<CachedResponse> {
        self.tick += 1;
        let tick = self.tick;
        let (response, last) = self.entries.get_mut(key)?;
        self.recency.remove(last);
        *last = tick;
        self.recency.insert(tick, key.clone());
        Some(response.clone())
    }

    /// Keeps `response` for `key` if it carries a validator and fits; evicts least recently used entries to make room.
    pub fn insert(&mut self, key: CacheKey, response: CachedResponse) {
        if response.etag.is_none() && response.last_modified.is_none() {
            return;
        }
        self.remove(&key);
        let weight = response.weight(&key);
        if weight > self.capacity_bytes {
            return;
        }
        while self.used_bytes + weight > self.capacity_bytes {
            let Some((_, oldest)) = self.recency.pop_first() else { break };
            if let Some((evicted, _)) = self.entries.remove(&oldest) {
                self.used_bytes -= evicted.weight(&oldest);
            }
        }
        self.tick += 1;
        self.recency.insert(self.tick, key.clone());
        self.used_bytes += weight;
        self.entries.insert(key, (response, self.tick));
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &CacheKey) {
        if let Some((old, tick)) = self.entries.remove(key) {
            self.recency.remove(&tick);
            self.used_bytes -= old.weight(key);
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes accounted to entries.
    pub fn used_bytes(&self) -> usize {
        self.used_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> CacheKey {
        CacheKey { credential: "c".into(), url: url.into() }
    }

    fn response(body: &str) -> CachedResponse {
        CachedResponse { etag: Some("\"e\"".into()), last_modified: None, link: None, body: body.into() }
    }

    #[test]
    fn keeps_and_returns_validated_bodies() {
        let mut cache = EtagCache::new(1024);
        cache.insert(key("/a"), response("A"));
        assert_eq!(cache.get(&key("/a")).map(|r| r.body.to_string()), Some("A".into()));
        assert_eq!(cache.get(&key("/b")), None);
    }

    #[test]
    fn credentials_do_not_share_entries() {
        let mut cache = EtagCache::new(1024);
        cache.insert(key("/a"), response("A"));
        assert_eq!(cache.get(&CacheKey { credential: "other".into(), url: "/a".into() }), None);
    }

    #[test]
    fn responses_without_validators_are_not_kept() {
        let mut cache = EtagCache::new(1024);
        cache.insert(key("/a"), CachedResponse { etag: None, last_modified: None, link: None, body: "A".into() });
        assert!(cache.is_empty());
    }

    #[test]
    fn evicts_least_recently_used_within_the_byte_cap() {
        let body = "x".repeat(100);
        let one = response(&body).weight(&key("/1"));
        let mut cache = EtagCache::new(one * 2);
        cache.insert(key("/1"), response(&body));
        cache.insert(key("/2"), response(&body));
        // Touch /1 so /2 is the least recently used.
        assert!(cache.get(&key("/1")).is_some());
        cache.insert(key("/3"), response(&body));
        assert!(cache.get(&key("/2")).is_none());
        assert!(cache.get(&key("/1")).is_some());
        assert!(cache.get(&key("/3")).is_some());
        assert!(cache.used_bytes() <= one * 2);
    }

    #[test]
    fn replacing_an_entry_does_not_leak_accounting() {
        let mut cache = EtagCache::new(10_000);
        cache.insert(key("/1"), response("aaaa"));
        cache.insert(key("/1"), response("bb"));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.used_bytes(), response("bb").weight(&key("/1")));
        cache.remove(&key("/1"));
        assert_eq!(cache.used_bytes(), 0);
    }

    #[test]
    fn an_entry_larger_than_the_cache_is_skipped() {
        let mut cache = EtagCache::new(10);
        cache.insert(key("/big"), response(&"x".repeat(100)));
        assert!(cache.is_empty());
    }
}
