//! A gateway whose route table grows while it runs: services that are not compiled in (a
//! Python or Go member of the mesh, say) get their REST routes from their own descriptors,
//! fetched by server reflection through their upstream once they answer.
//!
//! [`LiveGateway`] is the tower service to serve; [`Refresher::run`] is the task that asks
//! each pending upstream until it answers (every `retry` interval), then rebuilds the route
//! table with its files and swaps the gateway in. Until then its routes are absent (404);
//! once added they stay, and answer 503 while the service is down.

use std::{
    convert::Infallible,
    sync::{Arc, RwLock},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response};
use prost_reflect::DescriptorPool;
use tower::Service;

use crate::{
    Error, Gateway, TranscodeSettings, Transcoder, Upstreams, reflection, upstream::BoxError,
    upstream::Upstream,
};

/// How long one reflection attempt may take.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The wait between attempts at a service that has not answered yet.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(2);

/// The gateway currently in force; cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveGateway {
    current: Arc<RwLock<Gateway>>,
}

impl LiveGateway {
    fn get(&self) -> Gateway {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, gateway: Gateway) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = gateway;
    }
}

impl<B> Service<Request<B>> for LiveGateway
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = <Gateway as Service<Request<B>>>::Future;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.get().call(request)
    }
}

/// One service whose routes come by reflection.
#[derive(Clone)]
pub struct Reflected {
    /// A name for logs, such as the logical service name `recommendations`.
    pub name: String,
    /// Where its calls, and the reflection requests, go.
    pub upstream: Upstream,
}

impl std::fmt::Debug for Reflected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reflected")
            .field("name", &self.name)
            .finish()
    }
}

/// Adds the routes of pending [`Reflected`] services to a [`LiveGateway`].
#[derive(Debug)]
pub struct Refresher {
    gateway: LiveGateway,
    pool: DescriptorPool,
    settings: TranscodeSettings,
    upstreams: Upstreams,
    pending: Vec<Reflected>,
    /// The wait between attempts.
    pub retry: Duration,
    /// The bound of one attempt.
    pub attempt_timeout: Duration,
}

/// The gateway over `pool` and `upstreams` now, and the task that adds `reflected` services.
pub fn live(
    pool: DescriptorPool,
    settings: TranscodeSettings,
    upstreams: Upstreams,
    reflected: Vec<Reflected>,
) -> Result<(LiveGateway, Refresher), Error> {
    let transcoder = Transcoder::new(pool.clone(), settings.clone())?;
    let gateway = LiveGateway {
        current: Arc::new(RwLock::new(Gateway::new(transcoder, upstreams.clone()))),
    };
    let refresher = Refresher {
        gateway: gateway.clone(),
        pool,
        settings,
        upstreams,
        pending: reflected,
        retry: DEFAULT_RETRY,
        attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
    };
    Ok((gateway, refresher))
}

impl Refresher {
    /// Asks each pending service until every one has answered; returns then.
    pub async fn run(mut self) {
        while !self.pending.is_empty() {
            for reflected in std::mem::take(&mut self.pending) {
                if let Err(reason) = self.try_add(&reflected).await {
                    tracing::debug!(service = reflected.name, %reason, "no routes by reflection yet");
                    self.pending.push(reflected);
                }
            }
            if !self.pending.is_empty() {
                tokio::time::sleep(self.retry).await;
            }
        }
    }

    /// Fetches one service's descriptors and, when they add services, swaps in a gateway
    /// routing them too.
    async fn try_add(&mut self, reflected: &Reflected) -> Result<(), String> {
        let mut pool = self.pool.clone();
        let fetch = reflection::fetch_into_upstream(&mut pool, reflected.upstream.clone());
        tokio::time::timeout(self.attempt_timeout, fetch)
            .await
            .map_err(|_| format!("no answer within {:?}", self.attempt_timeout))??;
        let added: Vec<String> = pool
            .services()
            .map(|s| s.full_name().to_owned())
            .filter(|name| self.pool.get_service_by_name(name).is_none())
            .filter(|name| !name.starts_with("grpc."))
            .collect();
        let transcoder = match Transcoder::new(pool.clone(), self.settings.clone()) {
            Ok(transcoder) => transcoder,
            Err(e) => {
                // A contract the gateway cannot route would fail the same way next time.
                tracing::warn!(service = reflected.name, error = %e, "reflected contract rejected");
                return Ok(());
            }
        };
        let mut upstreams = self.upstreams.clone();
        for name in &added {
            upstreams = upstreams.with_service(name.clone(), reflected.upstream.clone());
        }
        let routes = transcoder
            .routes()
            .into_iter()
            .filter(|r| {
                added
                    .iter()
                    .any(|s| r.grpc_method.starts_with(&format!("{s}.")))
            })
            .count();
        tracing::info!(service = reflected.name, grpc_services = ?added, routes, "routes added by reflection");
        self.gateway
            .set(Gateway::new(transcoder, upstreams.clone()));
        self.pool = pool;
        self.upstreams = upstreams;
        Ok(())
    }
}
