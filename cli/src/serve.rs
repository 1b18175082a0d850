//! `protomesh serve <role>`: one role of the platform in this process.
//!
//! Main only gathers settings (defaults < `--config` file < `PROTOMESH_*` environment <
//! flags), sets up telemetry, binds, and hands a listener to the role; everything
//! cross-cutting comes from the kit's `ServerBuilder`.

pub(crate) mod keys;
mod roles;

use std::{future::Future, net::SocketAddr, path::PathBuf, pin::Pin};

use anyhow::Context;
use protomesh::{
    config::{Loader, ServerConfig},
    telemetry::{self, TelemetryConfig},
};
use serde::Deserialize;
use tokio::{io::AsyncReadExt, net::TcpListener};

use crate::up::plan::Role;

/// Options of `protomesh serve`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    /// The role to run.
    pub(crate) role: Role,
    /// Where to serve gRPC (HTTP for the gateway).
    #[arg(long, env = "PROTOMESH_LISTEN")]
    pub(crate) listen: Option<SocketAddr>,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, env = "PROTOMESH_ADMIN_LISTEN")]
    pub(crate) admin_listen: Option<SocketAddr>,
    /// This instance's id in discovery; defaults to `<role>-<pid>`.
    #[arg(long, env = "PROTOMESH_INSTANCE_ID")]
    pub(crate) instance_id: Option<String>,
    /// The registry's gRPC address: instances register there and `registry://` targets
    /// resolve there. Without it, nothing registers (DNS or static discovery).
    #[arg(long, env = "PROTOMESH_REGISTRY")]
    pub(crate) registry: Option<SocketAddr>,
    /// Where SQLite files and the token signing key live.
    #[arg(long, env = "PROTOMESH_DATA_DIR", default_value = "data")]
    pub(crate) data_dir: PathBuf,
    /// The database URL (`postgres://...` or `sqlite:...`); a SQLite file per role under
    /// the data directory when unset.
    #[arg(long, env = "PROTOMESH_DATABASE_URL")]
    pub(crate) database_url: Option<String>,
    /// A TOML settings file (keys as in `[server]`).
    #[arg(long, env = "PROTOMESH_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Gateway only: threads serving requests, each with its own runtime, upstream clients
    /// and connections (thread per core); one per available core when unset.
    #[arg(long, env = "PROTOMESH_GATEWAY_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) gateway_workers: Option<u16>,
    /// Drain and exit when standard input closes (set by `protomesh up`, so children never
    /// outlive it).
    #[arg(long, hide = true)]
    pub(crate) exit_with_stdin: bool,
}

/// The layered settings file/environment shape: the kit's server section.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// The kit's server settings.
    server: ServerConfig,
}

/// Runs the role until it is told to stop.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let server = server_config(&args)?;
    let mut telemetry = TelemetryConfig::new(args.role.name());
    telemetry.log_format = server.log_format;
    telemetry.otlp_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
    if let Ok(filter) = std::env::var("RUST_LOG") {
        telemetry.filter = filter;
    }
    let _telemetry = telemetry::init(telemetry)?;

    let listener = TcpListener::bind(server.listen_addr)
        .await
        .with_context(|| format!("binding {}", server.listen_addr))?;
    let admin = match server.admin_addr {
        Some(addr) if args.role != Role::Registry => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the admin port {addr}"))?,
        ),
        _ => None,
    };
    tracing::info!(role = %args.role, address = %listener.local_addr()?, "serving");
    let shutdown = shutdown(args.exit_with_stdin);
    roles::run(&args, server, listener, admin, shutdown).await
}

/// The kit's server settings: defaults < file < `PROTOMESH_SERVER__*` < flags.
fn server_config(args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let mut loader = Loader::new();
    if let Some(file) = &args.config {
        loader = loader.file(file)?;
    }
    let server_env = std::env::vars().filter(|(k, _)| k.starts_with("PROTOMESH_SERVER__"));
    loader = loader.env(server_env);
    if let Some(listen) = args.listen {
        loader = loader.flag("server.listen_addr", &listen.to_string());
    }
    if let Some(admin) = args.admin_listen {
        loader = loader.flag("server.admin_addr", &admin.to_string());
    }
    let settings: Settings = loader.load()?;
    Ok(settings.server)
}

/// The boxed shutdown future handed to a role.
pub(crate) type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Resolves on SIGTERM or ctrl-c, or, with `exit_with_stdin`, when standard input closes.
fn shutdown(exit_with_stdin: bool) -> Shutdown {
    Box::pin(async move {
        let stdin_closed = async {
            if !exit_with_stdin {
                return std::future::pending::<()>().await;
            }
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        };
        tokio::select! {
            _ = protomesh::server::shutdown_signal() => {}
            _ = stdin_closed => {}
        }
    })
}
