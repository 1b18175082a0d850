//! Telemetry: logs through a `tracing` subscriber (human or JSON), and distributed traces
//! exported over OTLP when an endpoint is configured.
//!
//! A process calls [`init`] once in `main` and keeps the [`TelemetryGuard`] alive; dropping it
//! flushes the spans still buffered. Servers wrap their routes in [`ServerTraceLayer`] (one
//! span per call, parented by the caller's W3C `traceparent`), clients wrap their channel in
//! [`ClientTraceLayer`] (one client span per call, whose context travels in `traceparent`), so
//! one trace follows a request from the gateway through every service.
//!
//! ```no_run
//! use protomesh::telemetry::{self, LogFormat, TelemetryConfig};
//!
//! # fn main() -> Result<(), telemetry::TelemetryError> {
//! let config = TelemetryConfig {
//!     otlp_endpoint: Some("http://127.0.0.1:4317".into()),
//!     log_format: LogFormat::Json,
//!     ..TelemetryConfig::new("catalog")
//! };
//! let _guard = telemetry::init(config)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`export`]: the OTLP exporter and tracer provider.
//! - [`propagation`]: W3C trace context in and out of HTTP/2 headers.
//! - [`server`]: the per-call server span layer.
//! - [`client`]: the per-call client span layer that injects the trace context.
//! - [`traced`]: the future and body that end a span with the call's gRPC status.

use std::{fmt, io::IsTerminal, str::FromStr};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Dispatch;
use tracing_subscriber::{
    EnvFilter, Layer, Registry, filter::LevelFilter, layer::SubscriberExt as _,
};

pub mod client;
pub mod export;
pub mod propagation;
pub mod server;
pub mod traced;

pub use client::{ClientTraceLayer, ClientTraceService};
pub use propagation::{continue_trace, extract_context, inject_context, inject_current_context};
pub use server::{ServerTraceLayer, ServerTraceService};

/// The log filter when none is configured: `info` and above from every crate.
pub const DEFAULT_FILTER: &str = "info";

/// The instrumentation scope name of protomesh's spans.
pub const TRACER_NAME: &str = "protomesh";

/// How log lines are written (to standard error); `human` or `json` in configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, coloured on a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = TelemetryError;

    /// Parses `human` or `json` (any case).
    fn from_str(s: &str) -> Result<Self, TelemetryError> {
        match s.to_ascii_lowercase().as_str() {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            _ => Err(TelemetryError::LogFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Human => "human",
            Self::Json => "json",
        })
    }
}

/// The telemetry settings of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// The `service.name` of exported spans, such as "catalog".
    pub service_name: String,
    /// Human or JSON log lines.
    pub log_format: LogFormat,
    /// The OTLP/gRPC collector, such as `http://127.0.0.1:4317` (the caller passes
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`); `None` exports no spans.
    pub otlp_endpoint: Option<String>,
    /// Which log lines to write, in `EnvFilter` syntax, such as `info,protomesh=debug`.
    /// Spans at INFO and above are exported whatever this says.
    pub filter: String,
}

impl TelemetryConfig {
    /// Human logs at [`DEFAULT_FILTER`], no export, for `service_name`.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            log_format: LogFormat::Human,
            otlp_endpoint: None,
            filter: DEFAULT_FILTER.to_owned(),
        }
    }
}

/// Telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("invalid log filter {filter:?}: {reason}")]
    Filter {
        /// The filter as configured.
        filter: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The log format is neither `human` nor `json`.
    #[error("invalid log format {0:?}: expected \"human\" or \"json\"")]
    LogFormat(String),
    /// The OTLP exporter could not be built.
    #[error("OTLP exporter for {endpoint:?}: {reason}")]
    Exporter {
        /// The endpoint as configured.
        endpoint: String,
        /// Why it failed.
        reason: String,
    },
    /// A global subscriber was already installed in this process.
    #[error("a tracing subscriber is already installed")]
    AlreadyInitialized,
}

/// Keeps the span exporter alive; dropping it exports the spans still buffered and shuts the
/// exporter down. Hold it in `main` until the process ends.
#[must_use = "dropping the guard shuts span export down"]
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// The tracer provider, when spans are exported.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// Exports the spans buffered so far (blocks until done or timed out).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.force_flush()
        {
            eprintln!("telemetry: flushing spans failed: {error}");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("telemetry: shutting span export down failed: {error}");
        }
    }
}

/// Installs the process-wide subscriber built by [`subscriber`]. Call once, in `main`.
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let (dispatch, guard) = subscriber(&config)?;
    tracing::dispatcher::set_global_default(dispatch)
        .map_err(|_| TelemetryError::AlreadyInitialized)?;
    Ok(guard)
}

/// Builds the subscriber [`init`] installs without installing it, for a scoped
/// `tracing::dispatcher::set_default` (tests, or embedding several services in one process).
pub fn subscriber(config: &TelemetryConfig) -> Result<(Dispatch, TelemetryGuard), TelemetryError> {
    let filter =
        EnvFilter::builder()
            .parse(&config.filter)
            .map_err(|e| TelemetryError::Filter {
                filter: config.filter.clone(),
                reason: e.to_string(),
            })?;
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();

    let provider = match &config.otlp_endpoint {
        Some(endpoint) => Some(export::otlp_provider(&config.service_name, endpoint)?),
        None => None,
    };
    if let Some(provider) = &provider {
        let tracer = provider.tracer(TRACER_NAME);
        let otel = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(LevelFilter::INFO);
        layers.push(Box::new(otel));
    }

    let ansi = std::io::stderr().is_terminal();
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi && config.log_format == LogFormat::Human);
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Human => Box::new(logs.with_filter(filter)),
        LogFormat::Json => Box::new(
            logs.json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_filter(filter),
        ),
    };
    layers.push(logs);

    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layers));
    Ok((dispatch, TelemetryGuard { provider }))
}

#[cfg(test)]
mod tests;
