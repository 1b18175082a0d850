//! The trace layer inside the server stack.

use std::sync::{Arc, Mutex};

use protomesh::contracts::protomesh::registry::v1::ListInstancesRequest;
use tracing::{Subscriber, field::Visit, span};
use tracing_subscriber::{Layer, layer::Context, prelude::*};

use crate::support::{TestServer, test_config};

/// Records the `otel.name` of every span opened.
struct SpanNames(Arc<Mutex<Vec<String>>>);

/// Reads one span's `otel.name`.
struct OtelName(Option<String>);

impl Visit for OtelName {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "otel.name" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

impl<S: Subscriber> Layer<S> for SpanNames {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, _: &span::Id, _: Context<'_, S>) {
        let mut name = OtelName(None);
        attrs.record(&mut name);
        if let Some(name) = name.0 {
            self.0.lock().unwrap().push(name);
        }
    }
}

/// A call through a kit server opens a server span named after its method.
#[tokio::test]
async fn calls_open_server_spans() {
    let names = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(SpanNames(names.clone()));
    // Server and client run on this test's single thread, so they see this subscriber.
    let _scoped = tracing::subscriber::set_default(subscriber);
    let server = TestServer::start(test_config()).await;

    let mut client = server.client().await;
    client
        .list_instances(ListInstancesRequest::default())
        .await
        .unwrap();
    server.stop().await.unwrap();

    let names = names.lock().unwrap().clone();
    assert!(
        names.contains(&"protomesh.registry.v1.RegistryService/ListInstances".to_string()),
        "{names:?}"
    );
}
