//! The seam between a server's lifecycle and service discovery.
//!
//! A server announces itself once it is ready to serve, and withdraws first thing when it
//! starts to drain, so that balancers move away before its listener closes. The registry
//! client (`discovery::registry`) implements it; a server without discovery (DNS, static)
//! uses none.

use std::{future::Future, net::SocketAddr, pin::Pin};

/// The boxed error an [`Announcer`] reports.
pub type AnnounceError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A boxed, sendable future, as [`Announcer`] methods return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Tells service discovery that an instance is serving, and that it is leaving.
pub trait Announcer: Send + Sync + 'static {
    /// Called once the server is bound and every service reports SERVING: register the
    /// instance at `grpc` (and its admin port, when there is one) and keep it registered
    /// (heartbeats) until [`Announcer::withdraw`].
    fn announce(
        &self,
        grpc: SocketAddr,
        admin: Option<SocketAddr>,
    ) -> BoxFuture<Result<(), AnnounceError>>;

    /// Called first when draining starts: leave discovery now. Must not fail the drain;
    /// errors are logged by the implementation.
    fn withdraw(&self) -> BoxFuture<()>;
}
