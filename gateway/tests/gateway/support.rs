//! Test fixtures: the test contract compiled with protox, a dynamic-message upstream served
//! on 127.0.0.1:0, the gateway in front of it, and a small HTTP/1.1 client.

use std::{convert::Infallible, future::Future, net::SocketAddr, pin::Pin};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, Value};
use protomesh_gateway::{
    Gateway, TranscodeSettings, Transcoder, Upstreams, codec::DynamicCodec, upstream,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

/// The test contract plus its imports, with source info and options.
pub(crate) fn pool() -> DescriptorPool {
    DescriptorPool::decode(encoded_set().as_slice()).expect("pool")
}

/// The dynamic upstream implementing `gwtest.v1.Conformance`.
#[derive(Clone)]
pub(crate) struct TestUpstream {
    pool: DescriptorPool,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl TestUpstream {
    /// The upstream over `pool`.
    pub(crate) fn new(pool: DescriptorPool) -> Self {
        Self { pool }
    }

    fn method(&self, name: &str) -> prost_reflect::MethodDescriptor {
        self.pool
            .get_service_by_name("gwtest.v1.Conformance")
            .and_then(|s| s.methods().find(|m| m.name() == name))
            .expect("method")
    }
}

impl tower::Service<Request<tonic::body::Body>> for TestUpstream {
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            let name = path.rsplit('/').next().unwrap_or("").to_owned();
            let response = match name.as_str() {
                "Echo" | "Hidden" => {
                    let method = this.method(&name);
                    let output = method.output();
                    let mut grpc = tonic::server::Grpc::new(DynamicCodec::new(method.input()));
                    let svc = tower::service_fn(move |req: tonic::Request<DynamicMessage>| {
                        let output = output.clone();
                        async move { Ok::<_, Status>(echo(output, req)) }
                    });
                    grpc.unary(svc, request).await
                }
                "Plain" => {
                    let method = this.method("Plain");
                    let output = method.output();
                    let mut grpc = tonic::server::Grpc::new(DynamicCodec::new(method.input()));
                    let svc = tower::service_fn(move |req: tonic::Request<DynamicMessage>| {
                        let mut out = DynamicMessage::new(output.clone());
                        out.set_field_by_name("request", Value::Message(req.into_inner()));
                        out.set_field_by_name("server", Value::String("test".into()));
                        async move { Ok::<_, Status>(tonic::Response::new(out)) }
                    });
                    grpc.unary(svc, request).await
                }
                "Fail" => {
                    let method = this.method("Fail");
                    let mut grpc = tonic::server::Grpc::new(DynamicCodec::new(method.input()));
                    let svc = tower::service_fn(|req: tonic::Request<DynamicMessage>| async move {
                        // Code 99: never answer (for deadline tests).
                        if int_field(req.get_ref(), "code") == 99 {
                            std::future::pending::<()>().await;
                        }
                        Err::<tonic::Response<DynamicMessage>, _>(fail(req.get_ref()))
                    });
                    grpc.unary(svc, request).await
                }
                "Count" => {
                    let method = this.method("Count");
                    let output = method.output();
                    let mut grpc = tonic::server::Grpc::new(DynamicCodec::new(method.input()));
                    let svc = tower::service_fn(move |req: tonic::Request<DynamicMessage>| {
                        let output = output.clone();
                        async move {
                            Ok::<_, Status>(tonic::Response::new(count(output, req.get_ref())))
                        }
                    });
                    grpc.server_streaming(svc, request).await
                }
                _ => Status::unimplemented(path).into_http(),
            };
            Ok(response)
        })
    }
}

fn int_field(msg: &DynamicMessage, name: &str) -> i32 {
    msg.get_field_by_name(name)
        .and_then(|v| v.as_i32())
        .unwrap_or(0)
}

fn echo(
    output: prost_reflect::MessageDescriptor,
    req: tonic::Request<DynamicMessage>,
) -> tonic::Response<DynamicMessage> {
    let mut seen = std::collections::HashMap::new();
    for key in [
        "authorization",
        "traceparent",
        "tracestate",
        "x-request-id",
        "tenant",
        "grpc-timeout",
        "connection",
        "x-seen-peer",
    ] {
        if let Some(value) = req.metadata().get(key).and_then(|v| v.to_str().ok()) {
            seen.insert(
                MapKey::String(key.to_owned()),
                Value::String(value.to_owned()),
            );
        }
    }
    let body = req.into_inner();
    let mut out = DynamicMessage::new(output);
    out.set_field_by_name("request", Value::Message(body.clone()));
    if body.has_field_by_name("nested") {
        out.set_field_by_name(
            "nested",
            body.get_field_by_name("nested").unwrap().into_owned(),
        );
    }
    out.set_field_by_name("tags", body.get_field_by_name("tags").unwrap().into_owned());
    out.set_field_by_name("metadata", Value::Map(seen));
    let mut response = tonic::Response::new(out);
    response
        .metadata_mut()
        .insert("x-echo", "yes".parse().unwrap());
    response
}

fn fail(req: &DynamicMessage) -> Status {
    let code = Code::from_i32(int_field(req, "code"));
    let message = req
        .get_field_by_name("message")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut status = if code == Code::InvalidArgument {
        Status::with_error_details(
            code,
            message,
            ErrorDetails::with_bad_request_violation("code", "three"),
        )
    } else {
        Status::new(code, message)
    };
    status
        .metadata_mut()
        .insert("x-failed", "yes".parse().unwrap());
    status
}

type CountStream = futures_util::stream::Iter<std::vec::IntoIter<Result<DynamicMessage, Status>>>;

fn count(output: prost_reflect::MessageDescriptor, req: &DynamicMessage) -> CountStream {
    let mut items: Vec<Result<DynamicMessage, Status>> = (0..int_field(req, "n"))
        .map(|i| {
            let mut msg = DynamicMessage::new(output.clone());
            msg.set_field_by_name("index", Value::I32(i));
            Ok(msg)
        })
        .collect();
    let fail_code = int_field(req, "fail_code");
    if fail_code != 0 {
        items.push(Err(Status::new(Code::from_i32(fail_code), "stream failed")));
    }
    futures_util::stream::iter(items)
}

/// A running server; dropping it stops the server.
pub(crate) struct Running {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serves `service` on 127.0.0.1:0.
pub(crate) async fn spawn<S, B>(service: S) -> Running
where
    S: tower::Service<Request<hyper::body::Incoming>, Response = Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<protomesh_gateway::BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<protomesh_gateway::BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = protomesh_gateway::server::serve(listener, service, async {
            let _ = stopped.await;
        })
        .await;
    });
    Running {
        addr,
        stop: Some(stop),
        task: Some(task),
    }
}

/// The upstream and a gateway in front of it.
pub(crate) struct Fixture {
    /// The gateway.
    pub(crate) gateway: Running,
    /// The upstream.
    _upstream: Running,
    /// The transcoder the gateway uses.
    pub(crate) transcoder: Transcoder,
}

/// Starts the test upstream on `pool`; returns it and a channel to it.
pub(crate) async fn spawn_upstream(pool: &DescriptorPool) -> (Running, tonic::transport::Channel) {
    let upstream_server = spawn(tower::ServiceExt::map_request(
        TestUpstream::new(pool.clone()),
        |r: Request<hyper::body::Incoming>| r.map(tonic::body::Body::new),
    ))
    .await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", upstream_server.addr))
            .unwrap()
            .connect_lazy();
    (upstream_server, channel)
}

/// Starts the upstream and a gateway with `settings` in front of it.
pub(crate) async fn fixture_with(settings: TranscodeSettings) -> Fixture {
    let pool = pool();
    let (upstream_server, channel) = spawn_upstream(&pool).await;
    let transcoder = Transcoder::new(pool, settings).expect("routes build");
    let gateway = Gateway::new(transcoder.clone(), Upstreams::single(upstream(channel)));
    Fixture {
        gateway: spawn(gateway).await,
        _upstream: upstream_server,
        transcoder,
    }
}

/// [`fixture_with`] default settings.
pub(crate) async fn fixture() -> Fixture {
    fixture_with(TranscodeSettings::default()).await
}

/// One HTTP/1.1 response.
#[derive(Debug)]
pub(crate) struct Reply {
    /// Status.
    pub(crate) status: StatusCode,
    /// Headers.
    pub(crate) headers: HeaderMap,
    /// Body.
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

/// Sends one HTTP/1.1 request to `addr`.
pub(crate) async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let response = sender.send_request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// GET `path`.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, request("GET", path, "")).await
}

/// A request with a JSON body (none when empty).
pub(crate) fn request(method: &str, path: &str, body: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "test");
    if !body.is_empty() {
        builder = builder.header("content-type", "application/json");
    }
    builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request")
}

impl tonic::server::NamedService for TestUpstream {
    const NAME: &'static str = "gwtest.v1.Conformance";
}

/// The encoded descriptor set of the test contract (what a `buf build` image holds).
pub(crate) fn encoded_set() -> Vec<u8> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut compiler = protox::Compiler::new([
        format!("{root}/tests/gateway/proto"),
        format!("{root}/../proto"),
    ])
    .expect("compiler");
    compiler.include_source_info(true).include_imports(true);
    compiler
        .open_files(["gwtest/v1/conformance.proto"])
        .expect("test proto compiles");
    compiler.encode_file_descriptor_set()
}
