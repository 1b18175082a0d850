//! The non-Rust member `up` runs: the Python recommendations service
//! (`services/recommendations`), on a fixed port, when python3 can run it; otherwise one
//! line says it is skipped and why, and the rest of the platform runs without it (the
//! gateway's recommendations route is then absent).

use std::{net::SocketAddr, path::Path, process::Stdio, time::Duration};

use tokio::{process::Command, sync::watch, time::timeout};

use super::child::{ChildSpec, supervise};

/// The recommendations service's gRPC port on one machine.
pub(crate) const RECOMMENDATIONS_PORT: u16 = 50091;
/// Its instance id.
pub(crate) const RECOMMENDATIONS_ID: &str = "recommendations-1";
/// Its launcher, relative to the checkout `up` runs in: prepares the virtualenv, then execs.
const LAUNCHER: &str = "services/recommendations/run";
/// How long preparing may take (a first start installs grpcio into `.tools/`).
const PREPARE_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the service listens.
pub(crate) fn recommendations_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], RECOMMENDATIONS_PORT))
}

/// Prepares and then supervises the recommendations service until `stop`; prints why and
/// returns when it cannot run here.
pub(crate) async fn recommendations(registry: SocketAddr, mut stop: watch::Receiver<bool>) {
    let id = RECOMMENDATIONS_ID;
    let launcher = Path::new(LAUNCHER);
    if !launcher.is_file() {
        eprintln!(
            "{id:<10} | skipped: {LAUNCHER} not found (run `protomesh up` from the checkout)"
        );
        return;
    }
    let launcher = match launcher.canonicalize() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("{id:<10} | skipped: {LAUNCHER}: {e}");
            return;
        }
    };
    let check = Command::new(&launcher)
        .arg("--check")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let prepared = tokio::select! {
        out = timeout(PREPARE_TIMEOUT, check) => out,
        _ = stop.changed() => return,
    };
    match prepared {
        Ok(Ok(out)) if out.status.success() => {}
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let reason = stderr.lines().rev().find(|l| !l.trim().is_empty());
            eprintln!(
                "{id:<10} | skipped: cannot run the Python service: {}",
                reason.unwrap_or("its launcher failed")
            );
            return;
        }
        Ok(Err(e)) => {
            eprintln!("{id:<10} | skipped: cannot start {LAUNCHER}: {e}");
            return;
        }
        Err(_) => {
            eprintln!("{id:<10} | skipped: preparing its virtualenv took over {PREPARE_TIMEOUT:?}");
            return;
        }
    }
    let spec = ChildSpec {
        id: id.to_owned(),
        program: launcher,
        args: vec![
            "--listen".into(),
            recommendations_addr().to_string(),
            "--registry".into(),
            registry.to_string(),
            "--instance-id".into(),
            id.to_owned(),
            "--exit-with-stdin".into(),
        ],
    };
    supervise(spec, stop).await;
}
