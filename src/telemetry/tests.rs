//! One trace across two real tonic servers, exported by the real OTLP exporter to a real
//! OTLP receiver, all on 127.0.0.1.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::{KeyValue, any_value::Value},
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use tonic::{
    Request, Response, Status,
    transport::{Channel, Server, server::TcpIncoming},
};
use tower_layer::Layer as _;

use super::*;
use crate::contracts::shop::users::v1::{
    self as users,
    user_service_client::UserServiceClient,
    user_service_server::{UserService, UserServiceServer},
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const GATEWAY_SPAN_ID: &str = "00f067aa0ba902b7";

/// An OTLP collector that keeps every span it receives, with its resource's service.name.
#[derive(Default, Clone)]
struct Receiver {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let attributes = resource_spans.resource.unwrap_or_default().attributes;
            let service = string_attribute(&attributes, "service.name").unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key)? {
        Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key)? {
        Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

type TracedClient = UserServiceClient<ClientTraceService<Channel>>;

/// A users service that forwards to `downstream` when it has one: A calls B.
struct Hop {
    downstream: Option<TracedClient>,
}

#[tonic::async_trait]
impl UserService for Hop {
    async fn register_user(
        &self,
        _: Request<users::RegisterUserRequest>,
    ) -> Result<Response<users::RegisterUserResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn login(
        &self,
        request: Request<users::LoginRequest>,
    ) -> Result<Response<users::LoginResponse>, Status> {
        match &self.downstream {
            Some(client) => client.clone().login(request.into_inner()).await,
            None => Err(Status::internal("downstream failure")),
        }
    }

    async fn get_current_user(
        &self,
        _: Request<users::GetCurrentUserRequest>,
    ) -> Result<Response<users::GetCurrentUserResponse>, Status> {
        if let Some(client) = &self.downstream {
            client
                .clone()
                .list_signing_keys(users::ListSigningKeysRequest {})
                .await?;
        }
        Ok(Response::new(users::GetCurrentUserResponse::default()))
    }

    async fn list_signing_keys(
        &self,
        _: Request<users::ListSigningKeysRequest>,
    ) -> Result<Response<users::ListSigningKeysResponse>, Status> {
        Ok(Response::new(users::ListSigningKeysResponse::default()))
    }
}

async fn serve(hop: Hop) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .layer(ServerTraceLayer::new())
        .add_service(UserServiceServer::new(hop))
        .serve_with_incoming(TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

/// Runs gateway -> A -> B twice (one success, one error) under the telemetry subscriber with
/// OTLP export to a receiver, and returns what the receiver got.
fn run_two_hops() -> Vec<(String, Span)> {
    // The receiver runs on its own runtime: flushing blocks the test thread.
    let receiver_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let receiver = Receiver::default();
    let listener = receiver_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    receiver_rt.spawn(
        Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );

    let config = TelemetryConfig {
        otlp_endpoint: Some(endpoint),
        filter: "warn".into(),
        ..TelemetryConfig::new("hops")
    };
    let (dispatch, guard) = subscriber(&config).unwrap();
    let scoped = tracing::dispatcher::set_default(&dispatch);
    // Servers and clients share this thread, so they all see the scoped subscriber.
    let app = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    app.block_on(async {
        let b = serve(Hop { downstream: None }).await;
        let channel = Channel::from_shared(format!("http://{b}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let to_b = UserServiceClient::new(ClientTraceLayer::new().layer(channel));
        let a = serve(Hop {
            downstream: Some(to_b),
        })
        .await;
        // The "gateway": a plain client that sends a traceparent of its own.
        let mut gateway = UserServiceClient::connect(format!("http://{a}"))
            .await
            .unwrap();
        let mut request = Request::new(users::GetCurrentUserRequest {});
        let traceparent = format!("00-{TRACE_ID}-{GATEWAY_SPAN_ID}-01");
        request
            .metadata_mut()
            .insert("traceparent", traceparent.parse().unwrap());
        gateway.get_current_user(request).await.unwrap();
        let status = gateway
            .login(users::LoginRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
    });
    drop(app); // closes every span a connection still holds
    drop(scoped);
    drop(guard); // exports the buffered spans and waits for the receiver's answer
    let spans = receiver.spans.lock().unwrap().clone();
    receiver_rt.shutdown_background();
    spans
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A trace crosses gateway -> A -> B: the spans arrive at the OTLP receiver with one trace id,
/// A's server span is the gateway's child, A's client span is A's child and B's server span
/// is the client span's child; RPC attributes and status codes are recorded.
#[test]
fn trace_crosses_two_servers_to_otlp() {
    let spans = run_two_hops();
    let find = |name: &str, kind: SpanKind, trace: Option<&str>| -> Span {
        let matching: Vec<&Span> = spans
            .iter()
            .map(|(_, s)| s)
            .filter(|s| s.name == name && s.kind == kind as i32)
            .filter(|s| trace.is_none_or(|t| hex(&s.trace_id) == t))
            .collect();
        assert_eq!(matching.len(), 1, "{name} {kind:?} in {spans:#?}");
        matching[0].clone()
    };
    assert_eq!(spans.len(), 6, "{spans:#?}");
    assert!(spans.iter().all(|(service, _)| service == "hops"));

    let users = "shop.users.v1.UserService";
    let a = find(
        &format!("{users}/GetCurrentUser"),
        SpanKind::Server,
        Some(TRACE_ID),
    );
    let call = find(
        &format!("{users}/ListSigningKeys"),
        SpanKind::Client,
        Some(TRACE_ID),
    );
    let b = find(
        &format!("{users}/ListSigningKeys"),
        SpanKind::Server,
        Some(TRACE_ID),
    );
    assert_eq!(hex(&a.parent_span_id), GATEWAY_SPAN_ID);
    assert_eq!(
        string_attribute(&a.attributes, "trace_id").unwrap(),
        TRACE_ID
    );
    assert_eq!(call.parent_span_id, a.span_id);
    assert_eq!(b.parent_span_id, call.span_id);

    assert_eq!(
        string_attribute(&b.attributes, "rpc.system").unwrap(),
        "grpc"
    );
    assert_eq!(
        string_attribute(&b.attributes, "rpc.service").unwrap(),
        users
    );
    assert_eq!(
        string_attribute(&b.attributes, "rpc.method").unwrap(),
        "ListSigningKeys"
    );
    for span in [&a, &call, &b] {
        assert_eq!(
            int_attribute(&span.attributes, "rpc.grpc.status_code"),
            Some(0),
            "{}",
            span.name
        );
    }

    // The failing call: a new trace (no traceparent), INTERNAL recorded at every hop.
    let login = format!("{users}/Login");
    let mut servers: Vec<Span> = spans
        .iter()
        .map(|(_, s)| s.clone())
        .filter(|s| s.name == login && s.kind == SpanKind::Server as i32)
        .collect();
    assert_eq!(servers.len(), 2, "{servers:#?}");
    servers.sort_by_key(|s| !s.parent_span_id.is_empty());
    let (a_err, b_err) = (&servers[0], &servers[1]);
    assert!(a_err.parent_span_id.is_empty(), "A's span is a root");
    let call_err = find(&login, SpanKind::Client, None);
    assert_eq!(b_err.trace_id, a_err.trace_id);
    assert_eq!(call_err.parent_span_id, a_err.span_id);
    assert_eq!(call_err.trace_id, a_err.trace_id);
    assert_eq!(b_err.parent_span_id, call_err.span_id);
    for span in [a_err, &call_err, b_err] {
        assert_eq!(
            int_attribute(&span.attributes, "rpc.grpc.status_code"),
            Some(tonic::Code::Internal as i64)
        );
        assert_eq!(
            span.status.as_ref().unwrap().code,
            StatusCode::Error as i32,
            "{}",
            span.name
        );
    }
}

/// Bad settings are refused with an error naming them.
#[test]
fn bad_settings_are_named() {
    let config = TelemetryConfig {
        filter: "info,[".into(),
        ..TelemetryConfig::new("x")
    };
    assert!(matches!(
        subscriber(&config),
        Err(TelemetryError::Filter { filter, .. }) if filter == "info,["
    ));
    assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
    assert_eq!("human".parse::<LogFormat>().unwrap(), LogFormat::Human);
    assert!(matches!(
        "xml".parse::<LogFormat>(),
        Err(TelemetryError::LogFormat(f)) if f == "xml"
    ));
}
