//! Runs one instance as a child process: output prefixed with its id, restarted when it
//! crashes, stopped gracefully (SIGTERM, then SIGKILL after a bound) when `up` stops.

use std::{
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use nix::{sys::signal, unistd::Pid};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::watch,
    time::{Instant, sleep, timeout},
};

/// The first wait before restarting a crashed instance; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// An instance that ran this long before crashing restarts after [`FIRST_BACKOFF`] again.
const HEALTHY_RUN: Duration = Duration::from_secs(30);
/// How long a stopping instance may drain before it is killed.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// What to run for one instance.
#[derive(Debug, Clone)]
pub(crate) struct ChildSpec {
    /// The instance id, printed before each line of its output.
    pub(crate) id: String,
    /// The program: this very executable.
    pub(crate) program: PathBuf,
    /// Its arguments (`serve <role> ...`).
    pub(crate) args: Vec<String>,
}

/// Keeps the instance running until `stop` turns true, then stops it and returns.
pub(crate) async fn supervise(spec: ChildSpec, mut stop: watch::Receiver<bool>) {
    let mut backoff = FIRST_BACKOFF;
    while !*stop.borrow() {
        let started = Instant::now();
        let mut child = match spawn(&spec) {
            Ok(child) => child,
            Err(e) => {
                eprintln!("{:<10} | could not start: {e}", spec.id);
                return;
            }
        };
        // The child watches its stdin and drains when it closes: if `up` dies, even by
        // SIGKILL, its children follow instead of running on as orphans.
        let _stdin = child.stdin.take();
        tokio::select! {
            status = child.wait() => {
                if *stop.borrow() {
                    return;
                }
                backoff = if started.elapsed() >= HEALTHY_RUN { FIRST_BACKOFF } else { backoff };
                eprintln!("{:<10} | {}; restarting in {backoff:?}", spec.id, describe(status));
                tokio::select! {
                    _ = sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            _ = stop.changed() => {
                terminate(&spec.id, &mut child).await;
                return;
            }
        }
    }
}

/// Starts the child with piped output, each line copied to ours behind the instance id.
fn spawn(spec: &ChildSpec) -> std::io::Result<Child> {
    let mut child = Command::new(&spec.program)
        .args(&spec.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    if let Some(out) = child.stdout.take() {
        tokio::spawn(copy_lines(spec.id.clone(), out));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(copy_lines(spec.id.clone(), err));
    }
    Ok(child)
}

/// Copies each line of `from` to our stdout behind `id`, so logs interleave readably.
async fn copy_lines(id: String, from: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        println!("{id:<10} | {line}");
    }
}

/// Asks the child to drain (SIGTERM) and kills it when it takes longer than [`STOP_TIMEOUT`].
async fn terminate(id: &str, child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = signal::kill(Pid::from_raw(pid), signal::Signal::SIGTERM);
    }
    match timeout(STOP_TIMEOUT, child.wait()).await {
        Ok(status) => eprintln!("{id:<10} | stopped: {}", describe(status)),
        Err(_) => {
            eprintln!("{id:<10} | did not stop within {STOP_TIMEOUT:?}; killing it");
            let _ = child.kill().await;
        }
    }
}

/// A short description of how a child ended.
fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => format!("exited ({s})"),
        Err(e) => format!("lost ({e})"),
    }
}
