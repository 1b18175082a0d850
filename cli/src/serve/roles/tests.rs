//! The roles wired as `protomesh serve` wires them, in this process on 127.0.0.1:0: the
//! registry, the catalog and the gateway, then REST calls through the gateway and the
//! admin ports' real `/metrics`.

use std::{net::SocketAddr, path::Path, time::Duration};

use protomesh::config::ServerConfig;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinHandle,
};

use super::super::{ServeArgs, Shutdown, keys};
use crate::up::plan::Role;

/// One role running on its own listeners until stopped.
struct Running {
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Starts `role` as `protomesh serve` would, with an admin port unless it is the registry.
    async fn start(role: Role, data_dir: &Path, registry: Option<SocketAddr>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = match role {
            Role::Registry => None,
            _ => Some(TcpListener::bind("127.0.0.1:0").await.unwrap()),
        };
        let addr = listener.local_addr().unwrap();
        let admin_addr = admin.as_ref().map(|a| a.local_addr().unwrap());
        let args = ServeArgs {
            role,
            listen: Some(addr),
            admin_listen: admin_addr,
            instance_id: Some(format!("{role}-test")),
            registry,
            data_dir: data_dir.to_path_buf(),
            database_url: None,
            config: None,
            // Two gateway threads whatever the machine, so the tests cross them.
            gateway_workers: Some(2),
            exit_with_stdin: false,
        };
        let server = ServerConfig {
            grace_period: Duration::ZERO,
            drain_timeout: Duration::from_secs(2),
            ..ServerConfig::default()
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown: Shutdown = Box::pin(async {
            let _ = stopped.await;
        });
        let task =
            tokio::spawn(async move { super::run(&args, server, listener, admin, shutdown).await });
        Self {
            addr,
            admin: admin_addr,
            stop,
            task,
        }
    }

    /// Stops it and waits for it to return.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the role stops within its drain bound")
            .expect("the role does not panic")
            .expect("the role ends without error");
    }
}

/// A plain HTTP/1.1 GET: the status code and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

/// The value of the sample `series` (name and labels exactly as exposed).
fn value(text: &str, series: &str) -> Option<f64> {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

/// The gateway's balanced client records into the gateway's own `/metrics` with no opt-in:
/// REST calls appear per catalog endpoint with their code, the catalog endpoint as ready and
/// the retry budget series at 0; with the catalog's `/metrics`, every name of
/// deploy/metrics.txt is exposed by the shop's processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_roles_expose_every_metric_the_assets_query() {
    let data = tempfile::tempdir().unwrap();
    // The key every role reads, made once before they start side by side.
    keys::signing_key(data.path()).unwrap();
    let registry = Running::start(Role::Registry, data.path(), None).await;
    let catalog = Running::start(Role::Catalog, data.path(), Some(registry.addr)).await;
    let gateway = Running::start(Role::Gateway, data.path(), Some(registry.addr)).await;
    let (gateway_admin, catalog_admin) = (gateway.admin.unwrap(), catalog.admin.unwrap());

    // The client waits for the catalog to register (its wait-for-ready bound); bounded retries
    // cover a registration slower than that.
    let mut first = (0, String::new());
    for _ in 0..3 {
        first = http_get(gateway.addr, "/v1/products").await;
        if first.0 == 200 {
            break;
        }
    }
    assert_eq!(first.0, 200, "{}", first.1);
    for _ in 0..2 {
        assert_eq!(http_get(gateway.addr, "/v1/products").await.0, 200);
    }
    assert_eq!(http_get(gateway_admin, "/readyz").await.0, 200);

    let (status, gateway_text) = http_get(gateway_admin, "/metrics").await;
    assert_eq!(status, 200);
    let endpoint = catalog.addr;
    let ok = format!(
        r#"grpc_client_handled_total{{grpc_service="shop.catalog.v1.CatalogService",grpc_method="ListProducts",grpc_type="unary",grpc_code="OK",endpoint="{endpoint}"}}"#
    );
    assert_eq!(value(&gateway_text, &ok), Some(3.0), "{gateway_text}");
    assert_eq!(
        value(
            &gateway_text,
            r#"protomesh_client_endpoints{service="catalog",state="ready"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &gateway_text,
            r#"protomesh_client_retry_budget_exhausted_total{service="catalog"}"#
        ),
        Some(0.0)
    );
    let (_, catalog_text) = http_get(catalog_admin, "/metrics").await;
    let served = r#"grpc_server_handled_total{grpc_service="shop.catalog.v1.CatalogService",grpc_method="ListProducts",grpc_type="unary",grpc_code="OK"}"#;
    assert_eq!(value(&catalog_text, served), Some(3.0));

    let contract = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/metrics.txt"
    ))
    .unwrap();
    let exposed = |name: &str| {
        [&gateway_text, &catalog_text].iter().any(|text| {
            text.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        })
    };
    let missing: Vec<&str> = contract
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && !exposed(name))
        .collect();
    assert!(
        missing.is_empty(),
        "not exposed by any shop process: {missing:?}"
    );

    gateway.stop().await;
    catalog.stop().await;
    registry.stop().await;
}
