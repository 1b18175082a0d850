//! One endpoint of a balanced client: its channel and what the balancer knows about it.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicU8, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

use crate::sync::lock;

use super::{
    connection::Connection,
    ewma::PeakEwma,
    observe::EndpointSeries,
    outlier::{Outlier, OutlierPolicy},
};

/// What an endpoint's health watch last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No answer yet: not a candidate.
    Pending,
    /// SERVING (or the server has no health service): a candidate.
    Serving,
    /// NOT_SERVING or SERVICE_UNKNOWN, as a draining server reports.
    NotServing,
    /// The health watch could not connect or broke.
    Unreachable,
}

impl Health {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Serving,
            2 => Self::NotServing,
            3 => Self::Unreachable,
            _ => Self::Pending,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Serving => 1,
            Self::NotServing => 2,
            Self::Unreachable => 3,
        }
    }
}

/// A public view of one endpoint, as [`super::BalancedChannel::endpoints`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStatus {
    /// The discovery id (instance id, or the address).
    pub id: String,
    /// The gRPC address.
    pub address: String,
    /// Labels from discovery.
    pub metadata: BTreeMap<String, String>,
    /// The last health state.
    pub health: Health,
    /// Whether passive outlier detection has ejected it for now.
    pub ejected: bool,
    /// Calls sent and not yet answered.
    pub in_flight: usize,
    /// The decayed peak-EWMA latency estimate.
    pub latency: Duration,
}

impl EndpointStatus {
    /// Whether new calls can go to this endpoint: SERVING and not ejected.
    pub fn is_ready(&self) -> bool {
        self.health == Health::Serving && !self.ejected
    }
}

/// An endpoint: a lazily made connection plus load, health and ejection state.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) id: String,
    pub(crate) address: String,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) channel: Connection,
    /// Its client metric series, by method.
    pub(crate) series: EndpointSeries,
    health: AtomicU8,
    in_flight: AtomicUsize,
    ewma: Mutex<PeakEwma>,
    outlier: Mutex<Outlier>,
}

impl Endpoint {
    pub(crate) fn new(
        id: String,
        address: String,
        metadata: BTreeMap<String, String>,
        channel: Connection,
        ewma: PeakEwma,
        series: EndpointSeries,
    ) -> Self {
        Self {
            id,
            address,
            metadata,
            channel,
            series,
            health: AtomicU8::new(Health::Pending.as_u8()),
            in_flight: AtomicUsize::new(0),
            ewma: Mutex::new(ewma),
            outlier: Mutex::new(Outlier::default()),
        }
    }

    pub(crate) fn health(&self) -> Health {
        Health::from_u8(self.health.load(Ordering::Acquire))
    }

    /// Sets the health; returns whether it changed.
    pub(crate) fn set_health(&self, health: Health) -> bool {
        self.health.swap(health.as_u8(), Ordering::AcqRel) != health.as_u8()
    }

    pub(crate) fn is_ejected(&self, now: Instant) -> bool {
        lock(&self.outlier).is_ejected(now)
    }

    /// The P2C cost: decayed latency times (outstanding calls + 1).
    pub(crate) fn cost(&self, now: Instant) -> f64 {
        let pending = self.in_flight.load(Ordering::Relaxed) as f64;
        lock(&self.ewma).estimate(now) * (pending + 1.0)
    }

    /// Counts a call as outstanding until the guard drops.
    pub(crate) fn start_call(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Records an answered call: its latency and that the endpoint works.
    pub(crate) fn record_success(&self, latency: Duration, now: Instant) {
        lock(&self.ewma).observe(latency, now);
        lock(&self.outlier).success();
    }

    /// Records a failed call (transport error or UNAVAILABLE); returns the ejection time
    /// when this failure ejects it.
    pub(crate) fn record_failure(&self, policy: OutlierPolicy, now: Instant) -> Option<Duration> {
        lock(&self.outlier).failure(policy, now)
    }

    pub(crate) fn status(&self, now: Instant) -> EndpointStatus {
        EndpointStatus {
            id: self.id.clone(),
            address: self.address.clone(),
            metadata: self.metadata.clone(),
            health: self.health(),
            ejected: self.is_ejected(now),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            latency: Duration::from_nanos(lock(&self.ewma).estimate(now) as u64),
        }
    }
}

/// An outstanding call on an endpoint.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a Endpoint);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
