//! Real servers for tests: bind `127.0.0.1:0` first, then serve, so a client can connect at
//! once without waiting.
//!
//! Servers run behind the kit's real [`AuthLayer`] with the contracts' policy table; callers
//! carry real Ed25519 tokens signed by one fixed test key ([`test_signing_key`]), so a token
//! issued by a users service under test verifies on every other test server too.

use std::{net::SocketAddr, time::Duration};

use protomesh::auth::{AuthLayer, Issuer, PolicyTable, SigningKey, Verifier};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{
    Request,
    metadata::MetadataValue,
    service::Routes,
    transport::{Channel, Endpoint},
};

/// The `iss` claim of test tokens.
pub const TEST_ISSUER: &str = "protomesh";

/// The fixed key every test server trusts and every test caller's token is signed with.
pub fn test_signing_key() -> SigningKey {
    SigningKey::from_seed("test-key", [7; 32]).expect("test key")
}

/// The auth layer test servers run behind: the contracts' policies, the test key.
pub fn test_auth_layer() -> AuthLayer {
    let verifier = Verifier::new(vec![test_signing_key().public()]).with_issuer(TEST_ISSUER);
    AuthLayer::new(PolicyTable::protomesh().expect("policy table"), verifier)
}

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
        Self::start_on(listener, routes).await
    }

    /// Serves `routes` on a bound `listener` behind the test auth (to come back on the port
    /// of a stopped server).
    pub async fn start_on(listener: TcpListener, routes: Routes) -> TestServer {
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .layer(test_auth_layer())
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
    pub async fn stop(&mut self) {
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

/// Someone calling a test server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The subject (user id or service name).
    pub subject: String,
    /// The bearer token to send.
    pub token: String,
}

impl Caller {
    /// A caller with `subject` and `roles`, holding a token signed with the test key.
    pub fn new(subject: &str, roles: &[&str]) -> Caller {
        let token = Issuer::new(test_signing_key(), TEST_ISSUER)
            .issue(subject, roles, Duration::from_secs(3600))
            .expect("sign a test token")
            .token;
        Caller {
            subject: subject.to_owned(),
            token,
        }
    }

    /// A caller holding an already issued `token` (from a login).
    pub fn with_token(subject: &str, token: &str) -> Caller {
        Caller {
            subject: subject.to_owned(),
            token: token.to_owned(),
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
