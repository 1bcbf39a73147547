//! Search indexes kept between runs in one isolate.
//!
//! Building the index of a large catalog costs far more than a search (GitHub's 1,223 tools:
//! ~600 KB of text to read from D1 and tokenise, against well under a millisecond to rank), so
//! an index outlives its run. It is keyed by the caller's partition `(tenant, subject)` and
//! reused only while a one-row fingerprint of the visible `tool` rows is unchanged: tool
//! production replaces a connection's rows wholesale with fresh timestamps, and removals
//! change the count, so any change to the rows changes `(count, max(updated_at),
//! total(created_at))`. Policies are not part of an index; they are applied per run.

use std::cell::RefCell;
use std::rc::Rc;

use crate::tools::SearchIndex;

/// Indexes kept at most.
const MAX_ENTRIES: usize = 8;
/// Approximate heap the kept indexes may use together.
const MAX_BYTES: usize = 24 * 1024 * 1024;

/// The state of a partition's visible `tool` rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    pub count: f64,
    pub updated: Option<f64>,
    pub created: f64,
    /// Visible connections whose tools are older than their integration's configuration
    /// (§8.7). Non-zero means "refresh, then fingerprint again"; folding the check into this
    /// query saves the common path a D1 round trip.
    pub stale: f64,
}

struct Entry {
    tenant: String,
    subject: String,
    fingerprint: Fingerprint,
    index: Rc<SearchIndex>,
    bytes: usize,
}

/// Most recently used first.
#[derive(Default)]
pub struct IndexCache {
    entries: RefCell<Vec<Entry>>,
}

impl IndexCache {
    /// The isolate's cache (one per thread; the Worker has one thread).
    pub fn isolate() -> Rc<IndexCache> {
        thread_local! {
            static ISOLATE: Rc<IndexCache> = Rc::new(IndexCache::default());
        }
        ISOLATE.with(Rc::clone)
    }

    /// The kept index of this partition if its rows still have this fingerprint.
    pub fn get(
        &self,
        tenant: &str,
        subject: &str,
        fingerprint: &Fingerprint,
    ) -> Option<Rc<SearchIndex>> {
        let mut entries = self.entries.borrow_mut();
        let at = entries
            .iter()
            .position(|e| e.tenant == tenant && e.subject == subject)?;
        if entries[at].fingerprint != *fingerprint {
            entries.remove(at);
            return None;
        }
        let entry = entries.remove(at);
        let index = entry.index.clone();
        entries.insert(0, entry);
        Some(index)
    }

    /// Keeps `index` for the partition, evicting the least recently used beyond the limits.
    pub fn put(
        &self,
        tenant: &str,
        subject: &str,
        fingerprint: Fingerprint,
        index: Rc<SearchIndex>,
    ) {
        let bytes = index.heap_bytes();
        if bytes > MAX_BYTES {
            return;
        }
        let mut entries = self.entries.borrow_mut();
        entries.retain(|e| !(e.tenant == tenant && e.subject == subject));
        entries.insert(
            0,
            Entry {
                tenant: tenant.to_owned(),
                subject: subject.to_owned(),
                fingerprint,
                index,
                bytes,
            },
        );
        let mut total = 0;
        let mut keep = 0;
        for entry in entries.iter() {
            if keep == MAX_ENTRIES || total + entry.bytes > MAX_BYTES {
                break;
            }
            total += entry.bytes;
            keep += 1;
        }
        entries.truncate(keep);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tools::ToolEntry;

    fn index(n: usize) -> Rc<SearchIndex> {
        Rc::new(SearchIndex::new(
            (0..n)
                .map(|i| ToolEntry {
                    path: format!("a.org.main.t{i}"),
                    name: format!("t{i}"),
                    description: None,
                    integration: "a".into(),
                })
                .collect(),
        ))
    }

    fn fp(count: f64) -> Fingerprint {
        Fingerprint {
            count,
            updated: Some(1.0),
            created: count,
            stale: 0.0,
        }
    }

    #[test]
    fn hits_only_on_the_same_partition_and_fingerprint() {
        let cache = IndexCache::default();
        cache.put("t", "dev", fp(1.0), index(1));
        assert_eq!(cache.get("t", "dev", &fp(1.0)).unwrap().len(), 1);
        assert!(cache.get("t", "alice", &fp(1.0)).is_none());
        assert!(cache.get("u", "dev", &fp(1.0)).is_none());
        // A changed fingerprint drops the entry.
        assert!(cache.get("t", "dev", &fp(2.0)).is_none());
        assert!(cache.get("t", "dev", &fp(1.0)).is_none());
    }

    #[test]
    fn keeps_the_most_recently_used() {
        let cache = IndexCache::default();
        for i in 0..MAX_ENTRIES + 2 {
            cache.put("t", &format!("u{i}"), fp(1.0), index(1));
        }
        assert!(cache.get("t", "u0", &fp(1.0)).is_none());
        assert!(cache.get("t", "u1", &fp(1.0)).is_none());
        assert!(cache.get("t", "u2", &fp(1.0)).is_some());
        assert_eq!(cache.entries.borrow().len(), MAX_ENTRIES);
    }
}
