//! The catalog's own metric: stock reservations refused or failed, by reason
//! (`protomesh_catalog_stock_reservation_failures_total`, which the
//! `ProtomeshStockReservationFailures` alert and the dashboard query). Registered in the
//! process's registry, so it shares `/metrics` with the server's families.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use protomesh::metrics::Registry;

use crate::Error;

/// The family's name (exposed with `_total`).
pub const STOCK_RESERVATION_FAILURES: &str = "protomesh_catalog_stock_reservation_failures";

/// The `reason` label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    /// `out_of_stock`, `not_found` (an unknown product) or `error` (storage).
    reason: &'static str,
}

/// Handles on each reason's series, resolved once.
#[derive(Debug, Clone)]
pub struct CatalogMetrics {
    /// A product had fewer units than asked.
    out_of_stock: Counter,
    /// A line named no product.
    not_found: Counter,
    /// The store failed.
    error: Counter,
}

impl CatalogMetrics {
    /// Registers the family in `registry`, every reason at 0 (an alert sees a flat line,
    /// not no data). Call once per registry.
    pub fn register(registry: &Registry) -> Self {
        let family = Family::<ReasonLabels, Counter>::default();
        registry.register(
            STOCK_RESERVATION_FAILURES,
            "Stock reservations the catalog refused or failed, by reason",
            family.clone(),
        );
        let series = |reason| family.get_or_create(&ReasonLabels { reason }).clone();
        Self {
            out_of_stock: series("out_of_stock"),
            not_found: series("not_found"),
            error: series("error"),
        }
    }

    /// Counts a reservation that failed with `error`; invalid requests and refused callers
    /// are not reservation failures (their gRPC codes count them).
    pub(crate) fn reservation_failed(&self, error: &Error) {
        let counter = match error {
            Error::OutOfStock { .. } => &self.out_of_stock,
            Error::NotFound(_) => &self.not_found,
            Error::Db(_) | Error::Storage(_) | Error::Transport(_) => &self.error,
            Error::Invalid(_)
            | Error::SkuTaken(_)
            | Error::PermissionDenied(_)
            | Error::Unauthenticated(_) => return,
        };
        counter.inc();
    }
}
