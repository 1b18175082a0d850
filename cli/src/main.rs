//! The `protomesh` command. `protomesh up` (the default) runs the whole platform on one
//! machine; `protomesh serve <role>` runs one role.

use clap::{Parser, Subcommand, ValueEnum};

/// protomesh: a gRPC-first microservices platform and its reference shop.
#[derive(Debug, Parser)]
#[command(name = "protomesh", version)]
struct Cli {
    /// What to run; `up` when omitted.
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole platform on this machine: every role, each as its own process.
    Up,
    /// Run one role of the platform in this process.
    Serve {
        /// The role to run.
        role: Role,
    },
}

/// The roles a protomesh process can play.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Role {
    /// The embedded service registry.
    Registry,
    /// The shop's user accounts.
    Users,
    /// The shop's product catalog.
    Catalog,
    /// The shop's carts.
    Cart,
    /// The shop's orders.
    Orders,
    /// The gRPC-JSON gateway.
    Gateway,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Up) {
        Command::Up => {
            println!(
                "protomesh: contracts compiled ({} descriptor bytes).",
                protomesh::FILE_DESCRIPTOR_SET.len()
            );
            println!(
                "roles: {}",
                Role::value_variants()
                    .iter()
                    .map(|r| format!("{r:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Command::Serve { role } => anyhow::bail!("role {role:?} is not built yet"),
    }
    Ok(())
}
