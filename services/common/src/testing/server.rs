//! Real servers for tests: bind `127.0.0.1:0` first, then serve, so a client can connect at
//! once without waiting.
//!
//! Callers carry `authorization: Bearer <token>`. Until the kit's auth layer verifies signed
//! tokens here, the test server reads a test token of the form `test:<subject>:<role,role>`
//! and puts the matching [`Principal`] into the request, as the auth layer does.

use std::net::SocketAddr;

use protomesh::auth::Principal;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{InterceptorLayer, Routes},
    transport::{Channel, Endpoint},
};

/// A server running for one test; stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// A connected channel to it.
    pub channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `routes` on an ephemeral port of 127.0.0.1 behind the test auth.
    pub async fn start(routes: Routes) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .layer(InterceptorLayer::new(test_auth))
                .add_routes(routes)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    stopped.await.ok();
                })
                .await
                .expect("test server");
        });
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the test server");
        TestServer {
            addr,
            channel,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The URL of the server, for a service that calls it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.ok();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
    }
}

/// Puts the caller named by a test token into the request.
fn test_auth(mut request: Request<()>) -> Result<Request<()>, Status> {
    let principal = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|token| {
            let mut parts = token.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("test"), Some(subject), Some(roles)) if !subject.is_empty() => {
                    Ok(Principal {
                        subject: subject.to_owned(),
                        roles: roles
                            .split(',')
                            .filter(|r| !r.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        token: token.to_owned(),
                    })
                }
                _ => Err(Status::unauthenticated("bad test token")),
            }
        })
        .transpose()?;
    if let Some(principal) = principal {
        request.extensions_mut().insert(principal);
    }
    Ok(request)
}

/// Someone calling a test server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The subject (user id or service name).
    pub subject: String,
    /// The bearer token to send.
    pub token: String,
}

impl Caller {
    /// A caller with `subject` and `roles`.
    pub fn new(subject: &str, roles: &[&str]) -> Caller {
        Caller {
            subject: subject.to_owned(),
            token: format!("test:{subject}:{}", roles.join(",")),
        }
    }

    /// A customer.
    pub fn customer(subject: &str) -> Caller {
        Caller::new(subject, &["customer"])
    }

    /// An administrator.
    pub fn admin() -> Caller {
        Caller::new("admin-1", &["admin"])
    }

    /// Another service.
    pub fn service() -> Caller {
        Caller::new("orders", &["service"])
    }

    /// `message` as a request from this caller.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(format!("Bearer {}", self.token)).expect("ascii token"),
        );
        request
    }
}
