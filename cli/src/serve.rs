//! `protomesh serve <role>`: one role of the platform in this process.

use std::{net::SocketAddr, path::PathBuf};

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
    /// The registry's gRPC address, when instances register there.
    #[arg(long, env = "PROTOMESH_REGISTRY")]
    pub(crate) registry: Option<SocketAddr>,
    /// Where SQLite files and keys live.
    #[arg(long, env = "PROTOMESH_DATA_DIR", default_value = "data")]
    pub(crate) data_dir: PathBuf,
    /// Drain and exit when standard input closes (set by `protomesh up`, so children never
    /// outlive it).
    #[arg(long, hide = true)]
    pub(crate) exit_with_stdin: bool,
}

/// Runs the role until it is told to stop.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("role {} is not built yet", args.role)
}
