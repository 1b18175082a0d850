//! The `protomesh` command. `protomesh up` (the default) runs the whole platform on one
//! machine; `protomesh serve <role>` runs one role.

mod serve;
mod signal;
mod up;

use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: a call allocates dozens of small buffers, and
/// glibc's malloc and free were about a sixth of the gateway's instructions per request
/// (entered through its plain entry points: see `protomesh_allocator`).
#[global_allocator]
static ALLOCATOR: protomesh_allocator::MiMalloc = protomesh_allocator::MiMalloc;

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
    Up(up::UpArgs),
    /// Run one role of the platform in this process.
    Serve(serve::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The gateway runs thread per core: this thread's current-thread runtime serves one of
    // its workers (see `protomesh_gateway::standalone::serve_sharded`). Everything else runs
    // on a multi-thread runtime.
    let mut runtime = match &cli.command {
        Some(Command::Serve(args)) if args.role == up::plan::Role::Gateway => {
            tokio::runtime::Builder::new_current_thread()
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all().build()?.block_on(run(cli))
}

/// Runs the parsed command.
async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Serve(args)) => {
            let result = serve::run(args).await;
            if let Err(e) = &result {
                eprintln!("Error: {e:#}");
            }
            // Exit now: a blocking read of stdin (`--exit-with-stdin`) would otherwise hold
            // the runtime open after the server has stopped.
            std::process::exit(i32::from(result.is_err()));
        }
        Some(Command::Up(args)) => up::run(args).await,
        None => up::run(Cli::parse_from(["protomesh", "up"]).up_args()).await,
    }
}

impl Cli {
    /// The `up` options of a parsed `protomesh up` (defaults and environment applied).
    fn up_args(self) -> up::UpArgs {
        match self.command {
            Some(Command::Up(args)) => args,
            _ => unreachable!("parsed from `protomesh up`"),
        }
    }
}
