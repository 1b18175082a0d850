//! Each role wired to the kit: build the service from its settings, then serve it with the
//! kit's `ServerBuilder` (health, reflection, metrics, tracing, auth, drain) and, when a
//! registry is configured, announce it there. Every balanced client records its metrics
//! into the role's registry, so they share the admin port's `/metrics` with the server's;
//! the gateway serves that port itself.

use std::sync::Arc;

use anyhow::Context;
use protomesh::{
    auth::{AuthLayer, PolicyTable},
    client::BalancedChannel,
    config::ServerConfig,
    discovery::{AnnouncerConfig, RegistryAnnouncer},
    metrics::Registry,
    server::{HealthReporter, ServerBuilder},
};
use protomesh_gateway::{
    BoxError, TranscodeSettings, Upstreams, descriptors,
    live::{self, LiveGateway, Reflected},
    standalone, upstream,
};
use shop_common::db::sqlite_url;
use tokio::net::TcpListener;

use super::{ServeArgs, Shutdown, keys};
use crate::up::plan::Role;

/// Runs `args.role` on `listener` until `shutdown`.
pub(crate) async fn run(
    args: &ServeArgs,
    server: ServerConfig,
    listener: TcpListener,
    admin: Option<TcpListener>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    match args.role {
        Role::Registry => {
            let config = protomesh_registry::RegistryConfig::default();
            Ok(protomesh_registry::run(listener, config, shutdown).await?)
        }
        Role::Gateway => gateway(args, &server, listener, admin, shutdown).await,
        role => {
            let builder = builder(args, server)?;
            let metrics = builder.registry().clone();
            let builder = match role {
                Role::Users => {
                    let mut config = shop_users::Config::new(
                        database_url(args),
                        keys::signing_key(&args.data_dir)?,
                    );
                    config.admin = admin_account();
                    builder.add_service(shop_users::service(&config).await?)
                }
                Role::Catalog => {
                    let config = shop_catalog::Config {
                        database_url: database_url(args),
                        ..Default::default()
                    };
                    builder
                        .add_service(shop_catalog::service_with_metrics(&config, &metrics).await?)
                }
                Role::Cart => {
                    let config = shop_cart::Config {
                        database_url: database_url(args),
                        ..Default::default()
                    };
                    let catalog = client(args, "catalog", &metrics)?;
                    builder.add_service(shop_cart::service(&config, catalog).await?)
                }
                Role::Orders => {
                    let token = keys::service_token(&args.data_dir, "orders")?;
                    let config = shop_orders::Config::new(database_url(args), token);
                    let (orders, service) = shop_orders::service(
                        &config,
                        client(args, "cart", &metrics)?,
                        client(args, "catalog", &metrics)?,
                    )
                    .await?;
                    let builder = builder.add_service(service);
                    let shutdown: Shutdown = Box::pin(async move {
                        shutdown.await;
                        orders.close();
                    });
                    return Ok(builder.serve(listener, admin, shutdown).await?);
                }
                Role::Registry | Role::Gateway => unreachable!("handled above"),
            };
            Ok(builder.serve(listener, admin, shutdown).await?)
        }
    }
}

/// The kit's server builder with auth, and the registry announcer when there is a registry.
fn builder(args: &ServeArgs, server: ServerConfig) -> anyhow::Result<ServerBuilder> {
    let auth = AuthLayer::new(PolicyTable::protomesh()?, keys::verifier(&args.data_dir)?);
    let mut builder = ServerBuilder::new(server).auth(auth);
    if let Some(registry) = args.registry {
        let id = args
            .instance_id
            .clone()
            .unwrap_or_else(|| format!("{}-{}", args.role, std::process::id()));
        let announcer = RegistryAnnouncer::new(
            &registry.to_string(),
            AnnouncerConfig::new(args.role.name(), id),
        )?;
        builder = builder.announcer(Arc::new(announcer));
    }
    Ok(builder)
}

/// The database URL: the flag or environment, else `sqlite:<data>/<role>.db`.
fn database_url(args: &ServeArgs) -> String {
    args.database_url
        .clone()
        .unwrap_or_else(|| sqlite_url(&args.data_dir, &format!("{}.db", args.role)))
}

/// The administrator account from `PROTOMESH_ADMIN_EMAIL` and `PROTOMESH_ADMIN_PASSWORD`,
/// when both are set.
fn admin_account() -> Option<shop_users::AdminAccount> {
    let email = std::env::var("PROTOMESH_ADMIN_EMAIL").ok()?;
    let password = std::env::var("PROTOMESH_ADMIN_PASSWORD").ok()?;
    Some(shop_users::AdminAccount { email, password })
}

/// The target of a logical service: `PROTOMESH_<NAME>_TARGET` (for example
/// `dns://catalog.shop.svc.cluster.local:50051`), else `registry://<name>`.
fn target(service: &str) -> String {
    std::env::var(format!("PROTOMESH_{}_TARGET", service.to_uppercase()))
        .unwrap_or_else(|_| format!("registry://{service}"))
}

/// A balanced client for a logical service, recording into the process's `metrics`.
fn client(args: &ServeArgs, service: &str, metrics: &Registry) -> anyhow::Result<BalancedChannel> {
    let mut builder = BalancedChannel::builder(target(service))
        .service_name(service)
        .metrics_registry(metrics.clone());
    if let Some(registry) = args.registry {
        builder = builder.registry(registry.to_string());
    }
    builder
        .build()
        .with_context(|| format!("building the client for {service}"))
}

/// Services whose REST routes the gateway reads by reflection from the running service, not
/// from the compiled contracts: (gRPC service, logical name). A service in another language
/// joins the gateway this way without the gateway being rebuilt.
const REFLECTED: [(&str, &str); 1] = [(
    "shop.recommendations.v1.RecommendationService",
    "recommendations",
)];

/// The standalone REST gateway: routes from the compiled contracts, plus those of the
/// [`REFLECTED`] services once they answer; each service reached through the kit's balanced
/// client; the admin port serves the gateway's and its clients' metrics and `/readyz`, which
/// turns 503 as soon as the drain starts. Thread per core: each of `gateway_workers` threads
/// (default: one per available core) has its own gateway, clients and route refresher.
async fn gateway(
    args: &ServeArgs,
    server: &ServerConfig,
    listener: TcpListener,
    admin: Option<TcpListener>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let metrics = Registry::new();
    let reporter = HealthReporter::new();
    let pool = descriptors::compiled_without(&REFLECTED.map(|(service, _)| service))?;
    // The route refreshers, stopped when the gateway has drained.
    let refreshers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let make = {
        let (args, metrics, reporter) = (args.clone(), metrics.clone(), reporter.clone());
        let refreshers = refreshers.clone();
        move || -> Result<LiveGateway, BoxError> {
            let upstreams = gateway_upstreams(&args, &metrics, &reporter)?;
            let mut reflected = Vec::new();
            for (_, name) in REFLECTED {
                reflected.push(Reflected {
                    name: name.to_owned(),
                    upstream: upstream(client(&args, name, &metrics)?),
                });
            }
            let (gateway, refresher) = live::live(
                pool.clone(),
                TranscodeSettings::default(),
                upstreams,
                reflected,
            )?;
            // Runs on the calling thread's runtime.
            let task = tokio::spawn(refresher.run());
            refreshers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(task.abort_handle());
            Ok(gateway)
        }
    };
    let shards = standalone::Shards {
        workers: args.gateway_workers.map_or_else(
            || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            usize::from,
        ),
        make,
    };
    let serving = standalone::Serving {
        grace_period: server.grace_period,
        drain_timeout: server.drain_timeout,
        header_read_timeout: server.header_read_timeout,
    };
    let served = standalone::serve_sharded(
        listener, admin, shards, reporter, metrics, serving, shutdown,
    )
    .await;
    for task in refreshers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(..)
    {
        task.abort();
    }
    Ok(served?)
}

/// One gateway's upstreams: a balanced client per shop service (and the registry's, when
/// there is one), and the process's health service reading `reporter`.
fn gateway_upstreams(
    args: &ServeArgs,
    metrics: &Registry,
    reporter: &HealthReporter,
) -> anyhow::Result<Upstreams> {
    let mut upstreams = Upstreams::new();
    for (grpc_service, name) in [
        ("shop.users.v1.UserService", "users"),
        ("shop.catalog.v1.CatalogService", "catalog"),
        ("shop.cart.v1.CartService", "cart"),
        ("shop.orders.v1.OrderService", "orders"),
    ] {
        upstreams = upstreams.with_service(grpc_service, upstream(client(args, name, metrics)?));
    }
    if let Some(registry) = args.registry {
        let channel = BalancedChannel::builder(format!("static://{registry}"))
            .service_name("registry")
            .metrics_registry(metrics.clone())
            .build()?;
        upstreams =
            upstreams.with_service("protomesh.registry.v1.RegistryService", upstream(channel));
    }
    Ok(upstreams.with_service(standalone::HEALTH_SERVICE, standalone::health_of(reporter)))
}

#[cfg(test)]
mod tests;
