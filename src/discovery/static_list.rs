//! `static://`: a fixed list of addresses.

use std::collections::BTreeMap;

use futures_util::stream;

use super::{Change, Changes, Discover};

/// A fixed endpoint list; each address is its own id. Yields one insert per address and
/// then ends.
#[derive(Debug, Clone)]
pub struct StaticList {
    addresses: Vec<String>,
}

impl StaticList {
    /// A source for these `host:port` addresses.
    pub fn new(addresses: Vec<String>) -> Self {
        Self { addresses }
    }
}

impl Discover for StaticList {
    fn changes(self: Box<Self>) -> Changes {
        let inserts = self.addresses.into_iter().map(|address| Change::Insert {
            id: address.clone(),
            address,
            metadata: BTreeMap::new(),
        });
        Box::pin(stream::iter(inserts.collect::<Vec<_>>()))
    }
}
