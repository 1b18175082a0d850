//! TLS and mutual TLS, with certificates made in the test.

use std::path::Path;

use protomesh::{
    config::{ServerConfig, TlsConfig},
    contracts::protomesh::registry::v1::{
        ListInstancesRequest, registry_service_client::RegistryServiceClient,
    },
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::support::{TestServer, test_config};

/// A certificate authority.
struct Ca {
    /// Its certificate, PEM.
    pem: String,
    /// Signs leaf certificates.
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A new self-signed CA named `name`.
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `localhost` with `usage`; returns (cert PEM, key PEM).
    fn leaf(&self, usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// Writes `text` to `dir/name` and returns the path.
fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A server config serving TLS with a `localhost` certificate from `ca`, written into `dir`;
/// with `mutual`, clients must present a certificate from `ca` too.
fn tls_config(dir: &Path, ca: &Ca, mutual: bool) -> ServerConfig {
    let (cert, key) = ca.leaf(ExtendedKeyUsagePurpose::ServerAuth);
    ServerConfig {
        tls: Some(TlsConfig {
            cert: write(dir, "server.pem", &cert),
            key: write(dir, "server.key", &key),
            client_ca: mutual.then(|| write(dir, "ca.pem", &ca.pem)),
        }),
        ..test_config()
    }
}

/// One call over TLS trusting `ca`, presenting `identity` when given.
async fn call(
    addr: std::net::SocketAddr,
    ca: &str,
    identity: Option<(String, String)>,
) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let channel = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    RegistryServiceClient::new(channel)
        .list_instances(ListInstancesRequest::default())
        .await
        .map(|_| ())
        .map_err(|e| format!("call: {e}"))
}

/// With `client_ca` set, a client presenting a certificate from that CA is served; one with
/// no certificate, or one from another CA, is refused.
#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_valid_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("protomesh test ca");
    let config = tls_config(dir.path(), &ca, true);
    config.validate("server").unwrap();
    let server = TestServer::start(config).await;

    let valid = ca.leaf(ExtendedKeyUsagePurpose::ClientAuth);
    assert_eq!(call(server.addr, &ca.pem, Some(valid)).await, Ok(()));
    assert!(call(server.addr, &ca.pem, None).await.is_err());
    let stranger = Ca::new("someone else").leaf(ExtendedKeyUsagePurpose::ClientAuth);
    assert!(call(server.addr, &ca.pem, Some(stranger)).await.is_err());
    // A plaintext client gets nowhere either.
    let plain = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let result = RegistryServiceClient::new(channel)
            .list_instances(ListInstancesRequest::default())
            .await;
        assert!(result.is_err());
    }
    server.stop().await.unwrap();
}

/// A TLS file that does not exist is reported by name before serving.
#[tokio::test]
async fn missing_tls_file_is_named() {
    let config = ServerConfig {
        tls: Some(TlsConfig {
            cert: "/nonexistent/server.pem".into(),
            key: "/nonexistent/server.key".into(),
            client_ca: None,
        }),
        ..test_config()
    };
    let error = config.validate("server").unwrap_err();
    assert_eq!(error.setting(), Some("server.tls.cert"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let served = protomesh::server::ServerBuilder::new(config)
        .serve(listener, None, std::future::pending())
        .await;
    let message = served.unwrap_err().to_string();
    assert!(message.contains("/nonexistent/server.pem"), "{message}");
}

/// Answers every call trailers-only OK, telling in headers how many certificates the client
/// presented and whether the client's address was known.
#[derive(Clone)]
struct WhoAmI;

impl tonic::server::NamedService for WhoAmI {
    const NAME: &'static str = "test.WhoAmI";
}

impl tower::Service<http::Request<tonic::body::Body>> for WhoAmI {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let certs = request
            .extensions()
            .get::<protomesh::server::PeerCertificates>()
            .map_or(0, |certs| certs.0.len());
        let remote = request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr());
        let mut response = tonic::Status::ok("").into_http();
        let headers = response.headers_mut();
        headers.insert("x-peer-certs", certs.into());
        headers.insert("x-remote-known", u16::from(remote.is_some()).into());
        std::future::ready(Ok(response))
    }
}

/// Calls `WhoAmI` over `channel`; returns its two headers.
async fn who_am_i(channel: Channel) -> (String, String) {
    use tower::ServiceExt as _;
    let request = http::Request::post("/test.WhoAmI/Call")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::empty())
        .unwrap();
    let response = channel.oneshot(request).await.unwrap();
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    (header("x-peer-certs"), header("x-remote-known"))
}

/// Handlers see the client's certificate chain over mutual TLS (`PeerCertificates`) and the
/// client's address (tonic's `TcpConnectInfo`, which `tonic::Request::remote_addr` reads), over
/// TLS and plaintext alike.
#[tokio::test]
async fn handlers_see_the_client_certificates_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("protomesh test ca");
    let config = tls_config(dir.path(), &ca, true);
    let server = TestServer::start_with(config, None, |b| b.add_service(WhoAmI)).await;
    let (client_cert, client_key) = ca.leaf(ExtendedKeyUsagePurpose::ClientAuth);
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.pem))
        .domain_name("localhost")
        .identity(Identity::from_pem(client_cert, client_key));
    let channel = Channel::from_shared(format!("https://{}", server.addr))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert_eq!(who_am_i(channel).await, ("1".into(), "1".into()));
    server.stop().await.unwrap();

    let plain = TestServer::start_with(test_config(), None, |b| b.add_service(WhoAmI)).await;
    assert_eq!(
        who_am_i(plain.channel().await).await,
        ("0".into(), "1".into())
    );
    plain.stop().await.unwrap();
}

/// A server with a front layer (embedded REST's opt-in) offers HTTP/1.1 besides HTTP/2 over
/// TLS, so an HTTP/1.1-only client (a browser without h2, curl --http1.1) is served; without a
/// front layer the port stays HTTP/2 only and such a client's handshake is refused.
#[tokio::test]
async fn a_front_layer_answers_http1_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("protomesh test ca");
    let config = tls_config(dir.path(), &ca, false);
    let fronted = TestServer::start_with(config.clone(), None, |b| {
        b.front(tower::layer::util::Identity::new())
    })
    .await;
    let response = http1_get(fronted.addr, &ca.pem).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_11);
    // The stack answered: an unknown method is UNIMPLEMENTED.
    assert_eq!(response.headers()["grpc-status"], "12");
    fronted.stop().await.unwrap();

    let plain = TestServer::start(config).await;
    assert!(http1_get(plain.addr, &ca.pem).await.is_err());
    plain.stop().await.unwrap();
}

/// `GET /nothing.Here/Call` over TLS offering only HTTP/1.1 in ALPN, trusting `ca`.
async fn http1_get(
    addr: std::net::SocketAddr,
    ca: &str,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    use tokio_rustls::rustls::{
        ClientConfig, RootCertStore,
        pki_types::{CertificateDer, ServerName, pem::PemObject as _},
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| format!("http1: {e}"))?;
    tokio::spawn(connection);
    let request = http::Request::get("/nothing.Here/Call")
        .header("host", "localhost")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))
}
