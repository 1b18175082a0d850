//! [`ServerBuilder`]: registers services, then serves them behind the kit's stack until the
//! shutdown future completes, and drains in order.

use std::{convert::Infallible, future::Future, sync::Arc, time::Duration};

use http::{Request, Response};
use tokio::{net::TcpListener, sync::oneshot};
use tonic::body::Body;
use tonic_health::{
    ServingStatus,
    server::{HealthReporter, HealthService},
};
use tower::{BoxError, Layer, Service, ServiceExt as _, util::Either};

use super::{
    Announcer, ServerError, admin, cut,
    dispatch::{DispatchBuilder, RoutedService},
    listen::Listen,
    methods::MethodTable,
    shared::SharedService,
    stack::stack,
    tls,
};
use crate::{
    auth::AuthLayer,
    config::ServerConfig,
    metrics::{Registry, ServerMetrics},
};

/// The gRPC health service's name.
const HEALTH: &str = tonic_health::pb::health_server::SERVICE_NAME;
/// The reflection services' names.
const REFLECTION: [&str; 2] = [
    tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME,
    tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
];
/// How long the admin port may take to close after the gRPC server stopped.
const ADMIN_STOP_TIMEOUT: Duration = Duration::from_secs(1);
/// How long cut connections may take to wind down once the drain bound passed.
const CUT_TIMEOUT: Duration = Duration::from_secs(1);

/// Builds a production gRPC server: add services, optionally an announcer and a shared
/// metrics registry, then [`serve`](Self::serve). See the [module docs](super).
pub struct ServerBuilder {
    /// The settings.
    config: ServerConfig,
    /// The registered services.
    routes: DispatchBuilder,
    /// Their names, for health and reflection.
    names: Vec<&'static str>,
    /// Descriptor sets for reflection and method labels.
    descriptor_sets: Vec<&'static [u8]>,
    /// Tells discovery the server is up, and leaving.
    announcer: Option<Arc<dyn Announcer>>,
    /// Where metrics go.
    registry: Registry,
    /// Enforces the per-method access policy, when set.
    auth: Option<AuthLayer>,
    /// The health statuses.
    reporter: HealthReporter,
    /// Wraps the whole stack, when set ([`ServerBuilder::front`]).
    front: Option<MakeFront>,
}

/// The kit's whole stack (tracing, metrics, shedding, deadlines, auth, limits, the services),
/// as a [front layer](ServerBuilder::front) receives it.
pub type Stack = SharedService<Infallible>;

/// What a front layer makes of the [`Stack`].
type Fronted = SharedService<BoxError>;

/// Applies the front layer.
type MakeFront = Box<dyn FnOnce(Stack) -> Fronted + Send>;

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("services", &self.names)
            .field("announcer", &self.announcer.is_some())
            .field("auth", &self.auth.is_some())
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// A server with `config` and no services yet. Reflection knows every protomesh contract
    /// ([`crate::FILE_DESCRIPTOR_SET`]); add others with [`descriptor_set`](Self::descriptor_set).
    pub fn new(config: ServerConfig) -> Self {
        Self {
            config,
            routes: DispatchBuilder::default(),
            names: Vec::new(),
            descriptor_sets: vec![crate::FILE_DESCRIPTOR_SET],
            announcer: None,
            registry: Registry::new(),
            auth: None,
            reporter: HealthReporter::new(),
            front: None,
        }
    }

    /// Adds a tonic service (any generated `FooServiceServer`, also wrapped in an
    /// interceptor). Health reports it under its full name, reflection lists it.
    pub fn add_service<S: RoutedService>(mut self, service: S) -> Self {
        self.routes.add(service);
        self.names.push(S::NAME);
        self
    }

    /// Adds an encoded `FileDescriptorSet` (a user's own contracts), so reflection can
    /// describe their services and metrics label their methods.
    pub fn descriptor_set(mut self, encoded: &'static [u8]) -> Self {
        self.descriptor_sets.push(encoded);
        self
    }

    /// Announces the server to discovery once it serves, and withdraws it first on drain.
    pub fn announcer(mut self, announcer: Arc<dyn Announcer>) -> Self {
        self.announcer = Some(announcer);
        self
    }

    /// Enforces `auth` on every call (see [`crate::auth`]): UNAUTHENTICATED or
    /// PERMISSION_DENIED before the handler runs. Without it every method is open, so every
    /// protomesh service sets one; health and reflection are public in its policy table.
    pub fn auth(mut self, auth: AuthLayer) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Puts `layer` in front of the whole stack, and makes the server accept HTTP/1.1 besides
    /// HTTP/2. The layer sees every request first; whatever it passes on to the [`Stack`]
    /// goes through tracing, metrics, shedding, deadlines and auth like any gRPC call. The
    /// gateway's embedded REST mode is the use: one line,
    /// `.front(protomesh_gateway::RestLayer::new(transcoder))`, and the server's port
    /// answers REST too, with no REST call skipping the auth policy.
    pub fn front<L>(mut self, layer: L) -> Self
    where
        L: Layer<Stack> + Send + 'static,
        L::Service:
            Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
    {
        self.front = Some(Box::new(move |stack| {
            SharedService::new(layer.layer(stack))
        }));
        self
    }

    /// Records metrics into `registry` (shared with the process's clients) instead of a
    /// registry of the server's own.
    pub fn metrics_registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// The metrics registry the server records into (served on the admin port).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A handle on the health statuses, so a service can report NOT_SERVING on its own (its
    /// database went away) and SERVING again. `serve` sets everything SERVING at start.
    pub fn health_reporter(&self) -> HealthReporter {
        self.reporter.clone()
    }

    /// Serves on `listener` (and the admin port on `admin`) until `shutdown` completes, then
    /// drains: health NOT_SERVING, the announcer withdraws, `grace_period` of normal service,
    /// the listener closes, in-flight calls get up to `drain_timeout` to finish.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        admin: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let grpc_addr = listener.local_addr().map_err(ServerError::Listener)?;
        let admin_addr = match &admin {
            Some(admin) => Some(admin.local_addr().map_err(ServerError::Listener)?),
            None => None,
        };

        let http1 = self.front.is_some();
        let listen = Listen {
            tls: (self.config.tls.as_ref())
                .map(|tls| tls::acceptor(tls, http1))
                .transpose()?,
            http1,
            header_read_timeout: self.config.header_read_timeout,
        };

        let mut names = self.names.clone();
        names.push(HEALTH);
        names.extend(REFLECTION);
        let reflection = || {
            // Both reflection versions are listed, so each server must describe both: by
            // default tonic-reflection gives each only its own, and clients that resolve every
            // listed service (k6, reflection v1 clients) then fail on the other.
            let mut reflection = tonic_reflection::server::Builder::configure()
                .include_reflection_service(false)
                .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(
                    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                )
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
            for set in &self.descriptor_sets {
                reflection = reflection.register_encoded_file_descriptor_set(set);
            }
            for name in &names {
                reflection = reflection.with_service_name(*name);
            }
            reflection
        };
        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;
        self.routes
            .add(tonic_health::pb::health_server::HealthServer::new(
                HealthService::from_health_reporter(self.reporter.clone()),
            ));
        self.routes.add(reflection_v1);
        self.routes.add(reflection_v1alpha);

        let methods =
            MethodTable::from_descriptor_sets(self.descriptor_sets.iter().copied().chain([
                tonic_health::pb::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            ]));
        let metrics = ServerMetrics::register(&self.registry);
        let service = stack(
            std::mem::take(&mut self.routes).build(),
            &self.config,
            metrics,
            Arc::new(methods),
            self.auth.clone(),
        );
        if self.auth.is_none() {
            tracing::warn!("no auth layer: every method of this server is open");
        }
        let service = match self.front.take() {
            None => {
                Either::Left(service.map_err(|never: Infallible| -> BoxError { match never {} }))
            }
            Some(front) => Either::Right(front(SharedService::new(service))),
        };

        admin::set_all(&self.reporter, &self.names, ServingStatus::Serving).await;
        if let Some(announcer) = &self.announcer {
            announcer
                .announce(grpc_addr, admin_addr)
                .await
                .map_err(ServerError::Announce)?;
        }
        tracing::info!(%grpc_addr, ?admin_addr, services = ?self.names, "serving");

        let (admin_stop, admin_stopped) = oneshot::channel::<()>();
        let admin_task = admin.map(|listener| {
            let router = admin::router(self.registry.clone(), self.reporter.clone());
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = admin_stopped.await;
                    })
                    .await
            })
        });

        let (close, closed) = oneshot::channel::<()>();
        let cut = cut::Cut::default();
        let serving = listen.serve(service, cut::incoming(listener, cut.clone()), async {
            let _ = closed.await;
        });
        tokio::pin!(serving);
        let drain = Drain {
            reporter: self.reporter.clone(),
            names: self.names.clone(),
            announcer: self.announcer.clone(),
            grace_period: self.config.grace_period,
            drain_timeout: self.config.drain_timeout,
        };
        tokio::select! {
            // Serving ends once the drain closed the listener and the last connection ended.
            () = &mut serving => {}
            () = drain.run(shutdown, close) => {
                tracing::warn!(
                    timeout = ?self.config.drain_timeout,
                    "drain timeout passed; cutting the calls still in flight"
                );
                cut.cut();
                let _ = tokio::time::timeout(CUT_TIMEOUT, serving).await;
            }
        }

        let _ = admin_stop.send(());
        if let Some(task) = admin_task
            && let Ok(Ok(Err(error))) = tokio::time::timeout(ADMIN_STOP_TIMEOUT, task).await
        {
            return Err(ServerError::Admin(error));
        }
        tracing::info!(%grpc_addr, "stopped");
        Ok(())
    }
}

/// The drain sequence.
struct Drain {
    /// Health statuses to turn NOT_SERVING.
    reporter: HealthReporter,
    /// The registered services' names.
    names: Vec<&'static str>,
    /// Discovery to leave.
    announcer: Option<Arc<dyn Announcer>>,
    /// Time for balancers to move away.
    grace_period: Duration,
    /// Bound on in-flight calls after the listener closed.
    drain_timeout: Duration,
}

impl Drain {
    /// Waits for `shutdown`, drains, closes the listener (through `close`) and then waits
    /// `drain_timeout`: if this completes, the in-flight calls overran it.
    async fn run(mut self, shutdown: impl Future<Output = ()>, close: oneshot::Sender<()>) {
        shutdown.await;
        tracing::info!(grace_period = ?self.grace_period, "draining: health NOT_SERVING");
        // 1. Health first: probes and health-watching balancers stop sending new calls.
        admin::set_all(&self.reporter, &self.names, ServingStatus::NotServing).await;
        // 2. Leave discovery, so clients drop this instance from their endpoint sets.
        if let Some(announcer) = &self.announcer {
            announcer.withdraw().await;
        }
        // 3. Keep serving normally while balancers move away.
        tokio::time::sleep(self.grace_period).await;
        // 4. Close the listener; open connections get GOAWAY and finish their calls.
        let _ = close.send(());
        tracing::info!("draining: listener closed, waiting for in-flight calls");
        // Health watches would never end on their own: ending their status channels ends
        // them (their last message was NOT_SERVING).
        self.reporter.clear_service_status("").await;
        for name in &self.names {
            self.reporter.clear_service_status(name).await;
        }
        // 5. Bound the wait for in-flight calls.
        tokio::time::sleep(self.drain_timeout).await;
    }
}
