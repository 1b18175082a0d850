//! `dns://name:port`: every A/AAAA record of a name, resolved again on an interval.
//!
//! This is the scale-out path: a Kubernetes headless Service resolves to one record per
//! ready pod. A failed resolution keeps the last known set.

use std::{collections::BTreeMap, time::Duration};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{Changes, Discover, known::Known};

/// Resolves a name on an interval; each resolved `ip:port` is an endpoint (and its id).
#[derive(Debug, Clone)]
pub struct Dns {
    host: String,
    port: u16,
    interval: Duration,
}

impl Dns {
    /// A source for `host:port`, resolved every `interval`.
    pub fn new(host: String, port: u16, interval: Duration) -> Self {
        Self {
            host,
            port,
            interval,
        }
    }
}

impl Discover for Dns {
    fn changes(self: Box<Self>) -> Changes {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            let mut known = Known::default();
            let mut ticker = tokio::time::interval(self.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = tx.closed() => return,
                }
                let resolved = match tokio::net::lookup_host((self.host.as_str(), self.port)).await
                {
                    Ok(addresses) => addresses,
                    Err(error) => {
                        tracing::warn!(host = %self.host, %error, "dns resolution failed; keeping the last known set");
                        continue;
                    }
                };
                let fresh = resolved.map(|a| (a.to_string(), a.to_string(), BTreeMap::new()));
                for change in known.replace_all(fresh) {
                    if tx.send(change).await.is_err() {
                        return;
                    }
                }
            }
        });
        Box::pin(ReceiverStream::new(rx))
    }
}
