//! The OTLP/gRPC span exporter and the tracer provider that batches spans into it.
//!
//! OpenTelemetry's batch processor exports from its own OS thread, while the tonic exporter
//! needs a Tokio reactor. [`RuntimeExporter`] gives the exporter a small runtime of its own,
//! so export works whether or not (and however) the application runs Tokio, and never
//! competes with request handling for the application's runtime.

use std::{sync::Arc, time::Duration};

use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::{
    Resource,
    error::{OTelSdkError, OTelSdkResult},
    trace::{SdkTracerProvider, SpanData, SpanExporter},
};
use tokio::runtime::Runtime;

use super::TelemetryError;

/// How long one export call may take before it is abandoned.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// A tracer provider that batches spans and exports them to the OTLP/gRPC collector at
/// `endpoint`, with `service.name` = `service_name` and no other resource attributes (no
/// environment variables are read here).
pub fn otlp_provider(
    service_name: &str,
    endpoint: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    let fail = |reason: String| TelemetryError::Exporter {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otlp-export")
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    // The lazy tonic channel spawns its worker on the runtime current at build time.
    let exporter = {
        let _context = runtime.enter();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(DEFAULT_EXPORT_TIMEOUT)
            .build()
            .map_err(|e| fail(e.to_string()))?
    };
    let exporter = RuntimeExporter {
        inner: Arc::new(exporter),
        runtime: Some(runtime),
    };
    let resource = Resource::builder_empty()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_resource(resource)
        .with_batch_exporter(exporter)
        .build())
}

/// A span exporter that runs another exporter's calls on a runtime it owns.
#[derive(Debug)]
pub struct RuntimeExporter<E> {
    inner: Arc<E>,
    runtime: Option<Runtime>,
}

impl<E: SpanExporter + 'static> SpanExporter for RuntimeExporter<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let inner = Arc::clone(&self.inner);
        let task = self
            .runtime
            .as_ref()
            .map(|rt| rt.spawn(async move { inner.export(batch).await }));
        async move {
            match task {
                Some(task) => task
                    .await
                    .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?,
                None => Err(OTelSdkError::AlreadyShutdown),
            }
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Called while the provider is built, before the exporter is shared.
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}

impl<E> Drop for RuntimeExporter<E> {
    fn drop(&mut self) {
        // Safe from any thread, async or not.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
