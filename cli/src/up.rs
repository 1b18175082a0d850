//! `protomesh up`: the whole platform on one machine, each instance its own OS process.
//!
//! The CLI re-executes itself as `protomesh serve <role>` per instance (so `kill -9` of one
//! instance is a real failure the rest survive), prints one table of addresses, interleaves
//! the children's logs behind their ids, restarts crashed instances, and on ctrl-c or SIGTERM
//! drains them all. The Python recommendations service runs beside them when python3 can run
//! it (`python`), and is reported skipped, with the reason, when not.

mod child;
pub(crate) mod plan;
mod python;

use std::path::PathBuf;

use tokio::{sync::watch, task::JoinSet};

use self::{
    child::{ChildSpec, supervise},
    plan::{DEFAULT_CATALOG_REPLICAS, Instance, Role, default_plan},
};
use crate::signal::shutdown_signal;

/// Options of `protomesh up`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct UpArgs {
    /// Where the services keep their SQLite files and keys.
    #[arg(long, env = "PROTOMESH_DATA_DIR", default_value = "data")]
    pub(crate) data_dir: PathBuf,
    /// How many catalog replicas to run.
    #[arg(long, default_value_t = DEFAULT_CATALOG_REPLICAS)]
    pub(crate) catalog_replicas: u16,
}

/// Runs every instance until ctrl-c or SIGTERM, then stops them all.
pub(crate) async fn run(args: UpArgs) -> anyhow::Result<()> {
    let program = std::env::current_exe()?;
    std::fs::create_dir_all(&args.data_dir)?;
    // Created once here, before any child starts, so the instances never race to create it.
    crate::serve::keys::signing_key(&args.data_dir)?;
    let plan = default_plan(args.catalog_replicas);
    let registry = plan
        .iter()
        .find(|i| i.role == Role::Registry)
        .map(|i| i.listen)
        .expect("the plan has a registry");

    print_table(&plan);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut children = JoinSet::new();
    for instance in &plan {
        let spec = ChildSpec {
            id: instance.id.clone(),
            program: program.clone(),
            args: serve_args(instance, registry, &args),
        };
        children.spawn(supervise(spec, stop_rx.clone()));
    }
    children.spawn(python::recommendations(registry, stop_rx.clone()));

    shutdown_signal().await;
    eprintln!("protomesh up: stopping every instance");
    let _ = stop_tx.send(true);
    while children.join_next().await.is_some() {}
    Ok(())
}

/// The `serve` command line of one instance.
fn serve_args(instance: &Instance, registry: std::net::SocketAddr, args: &UpArgs) -> Vec<String> {
    vec![
        "serve".into(),
        instance.role.name().into(),
        "--listen".into(),
        instance.listen.to_string(),
        "--admin-listen".into(),
        instance.admin.to_string(),
        "--instance-id".into(),
        instance.id.clone(),
        "--registry".into(),
        registry.to_string(),
        "--data-dir".into(),
        args.data_dir.display().to_string(),
        "--exit-with-stdin".into(),
    ]
}

/// Prints where each instance listens.
fn print_table(plan: &[Instance]) {
    println!(
        "{:<12} {:<22} {:<22}",
        "INSTANCE", "ADDRESS", "ADMIN (metrics)"
    );
    for i in plan {
        let scheme = if i.role == Role::Gateway {
            "http://"
        } else {
            "grpc://"
        };
        // The registry is not a kit server: it has no admin port.
        let admin = match i.role {
            Role::Registry => "-".to_owned(),
            _ => format!("http://{}", i.admin),
        };
        println!(
            "{:<12} {:<22} {:<22}",
            i.id,
            format!("{scheme}{}", i.listen),
            admin
        );
    }
    println!(
        "{:<12} {:<22} {:<22}",
        python::RECOMMENDATIONS_ID,
        format!("grpc://{}", python::recommendations_addr()),
        "- (Python; when python3 can run it)"
    );
    if let Some(gw) = plan.iter().find(|i| i.role == Role::Gateway) {
        println!(
            "\nREST gateway: http://{}   (OpenAPI: http://{}/openapi.json)",
            gw.listen, gw.listen
        );
    }
    println!();
}
