//! The sweeper: finishes what a crashed or failed placement or cancel left behind.
//!
//! A PENDING order older than the pending timeout belongs to a placement whose process died
//! (or whose compensation failed): it becomes FAILED. Every CANCELLED or FAILED order whose
//! stock is not known to be back gets a ReleaseStock (idempotent at the catalog) until one
//! returns stock, or until one finds nothing to return after the pending timeout (when no
//! reservation can still be in flight). It runs in a background task every sweep interval,
//! and on demand.

use std::time::Duration;

use shop_common::time::now_micros;

use crate::{Error, domain::Status, service::Inner};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Stale PENDING orders moved to FAILED.
    pub failed: usize,
    /// Orders whose stock was released.
    pub released: usize,
}

impl Inner {
    /// One sweep: fails PENDING orders untouched for `pending_timeout`, then releases the
    /// stock of cancelled and failed orders.
    pub(crate) async fn sweep(&self, pending_timeout: Duration) -> Result<SweepReport, Error> {
        let timeout = i64::try_from(pending_timeout.as_micros()).unwrap_or(i64::MAX);
        let cutoff = now_micros().saturating_sub(timeout);
        let mut report = SweepReport::default();
        for order_id in self.store.stale_pending(cutoff).await? {
            if self
                .store
                .transition(&order_id, Status::Pending, Status::Failed)
                .await?
            {
                report.failed += 1;
                tracing::warn!(%order_id, "a stale pending order failed");
                if let Some(order) = self.store.get(&order_id).await? {
                    self.publish(&order);
                }
            }
        }
        for (order_id, changed) in self.store.unreleased().await? {
            match self.release(&order_id).await {
                // Releasing nothing settles an order only once a reservation still in flight
                // when it changed state can no longer land.
                Ok(released) if released || changed < cutoff => {
                    self.store.mark_released(&order_id).await?;
                    report.released += 1;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%order_id, %error, "release failed; will retry"),
            }
        }
        Ok(report)
    }
}

/// Runs [`Inner::sweep`] every `interval` until the task is aborted.
pub(crate) async fn run(inner: Inner, interval: Duration, pending_timeout: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = inner.sweep(pending_timeout).await {
            tracing::warn!(error = %shop_common::cause_chain(&error), "sweep failed");
        }
    }
}
