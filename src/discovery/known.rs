//! The last known endpoint set of a watching source, turned into minimal changes.

use std::collections::BTreeMap;

use super::Change;

/// One endpoint as a source knows it: address and metadata.
type Entry = (String, BTreeMap<String, String>);

/// The endpoints a source has reported so far. Sources keep it across reconnections, so
/// that a full snapshot after a reconnect yields only what really changed.
#[derive(Debug, Default)]
pub(crate) struct Known {
    entries: BTreeMap<String, Entry>,
}

impl Known {
    /// Records an endpoint; returns the insert to emit, or nothing when it is unchanged.
    pub(crate) fn upsert(
        &mut self,
        id: String,
        address: String,
        metadata: BTreeMap<String, String>,
    ) -> Option<Change> {
        let entry = (address.clone(), metadata.clone());
        if self.entries.get(&id) == Some(&entry) {
            return None;
        }
        self.entries.insert(id.clone(), entry);
        Some(Change::Insert {
            id,
            address,
            metadata,
        })
    }

    /// Forgets an endpoint; returns the removal to emit, or nothing when it was unknown.
    pub(crate) fn remove(&mut self, id: &str) -> Option<Change> {
        self.entries
            .remove(id)
            .map(|_| Change::Remove { id: id.to_owned() })
    }

    /// Replaces the whole set: removals for what is gone, inserts for what is new or changed.
    pub(crate) fn replace_all(
        &mut self,
        fresh: impl IntoIterator<Item = (String, String, BTreeMap<String, String>)>,
    ) -> Vec<Change> {
        let fresh: BTreeMap<String, Entry> = fresh
            .into_iter()
            .map(|(id, address, metadata)| (id, (address, metadata)))
            .collect();
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|id| !fresh.contains_key(*id))
            .cloned()
            .collect();
        let mut changes: Vec<Change> = gone.iter().filter_map(|id| self.remove(id)).collect();
        changes.extend(
            fresh
                .into_iter()
                .filter_map(|(id, (address, metadata))| self.upsert(id, address, metadata)),
        );
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(id: &str, address: &str) -> Change {
        Change::Insert {
            id: id.into(),
            address: address.into(),
            metadata: BTreeMap::new(),
        }
    }

    /// A snapshot yields only the differences from the known set, in a stable order.
    #[test]
    fn snapshot_yields_only_differences() {
        let mut known = Known::default();
        let entry = |id: &str, a: &str| (id.to_owned(), a.to_owned(), BTreeMap::new());
        assert_eq!(
            known.replace_all([entry("a", "h:1"), entry("b", "h:2")]),
            [insert("a", "h:1"), insert("b", "h:2")]
        );
        assert_eq!(
            known.replace_all([entry("b", "h:3"), entry("c", "h:4")]),
            [
                Change::Remove { id: "a".into() },
                insert("b", "h:3"),
                insert("c", "h:4")
            ]
        );
        assert_eq!(
            known.upsert("c".into(), "h:4".into(), BTreeMap::new()),
            None
        );
        assert_eq!(known.remove("zz"), None);
    }
}
