//! The catalog's `/metrics` through the kit's server: a refused reservation is counted by
//! reason, next to the server families, and every catalog name of deploy/metrics.txt is there.

use protomesh::{
    config::ServerConfig,
    contracts::shop::catalog::v1::catalog_service_client::CatalogServiceClient, metrics::Registry,
    server::ServerBuilder,
};
use shop_catalog::Config;
use shop_common::testing::{Caller, Engine, TestDb, test_auth_layer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
};
use tonic::{Code, transport::Channel};

use crate::helpers::new_product;

/// The body of a plain HTTP/1.1 GET of `path` on `addr`.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    raw.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// The value of the sample `series` (name and labels, exactly as exposed).
fn value(text: &str, series: &str) -> Option<f64> {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

/// A reservation of more units than in stock and one of an unknown product are counted, by
/// reason; a good one is not. The catalog's names of deploy/metrics.txt are all exposed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_reservations_are_counted_in_metrics() {
    let db = TestDb::new(Engine::Sqlite)
        .await
        .expect("SQLite always runs");
    let registry = Registry::new();
    let mut config = Config::with_database_url(db.fresh_url().await);
    config.seed_demo = false;
    let service = shop_catalog::service_with_metrics(&config, &registry)
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, admin_addr) = (listener.local_addr().unwrap(), admin.local_addr().unwrap());
    let server = ServerBuilder::new(ServerConfig {
        grace_period: std::time::Duration::ZERO,
        ..ServerConfig::default()
    })
    .auth(test_auth_layer())
    .metrics_registry(registry)
    .add_service(service);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, Some(admin), async {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = CatalogServiceClient::new(channel);
    let failures = |reason: &str| {
        format!(r#"protomesh_catalog_stock_reservation_failures_total{{reason="{reason}"}}"#)
    };
    let before = http_get(admin_addr, "/metrics").await;
    assert_eq!(value(&before, &failures("out_of_stock")), Some(0.0));

    let product = client
        .create_product(Caller::admin().request(new_product("M-1", 2)))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let reserve = |id: &str, product_id: &str, quantity| {
        use protomesh::contracts::shop::catalog::v1::{ReserveStockRequest, StockLine};
        Caller::service().request(ReserveStockRequest {
            reservation_id: id.into(),
            lines: vec![StockLine {
                product_id: product_id.into(),
                quantity,
            }],
        })
    };
    let too_many = client
        .reserve_stock(reserve("r-1", &product.product_id, 3))
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), Code::FailedPrecondition);
    let unknown = client
        .reserve_stock(reserve("r-2", "no-such-product", 1))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    client
        .reserve_stock(reserve("r-3", &product.product_id, 2))
        .await
        .unwrap();

    let text = http_get(admin_addr, "/metrics").await;
    assert_eq!(value(&text, &failures("out_of_stock")), Some(1.0));
    assert_eq!(value(&text, &failures("not_found")), Some(1.0));
    assert_eq!(value(&text, &failures("error")), Some(0.0));
    let reserve_code = |code: &str| {
        format!(
            r#"grpc_server_handled_total{{grpc_service="shop.catalog.v1.CatalogService",grpc_method="ReserveStock",grpc_type="unary",grpc_code="{code}"}}"#
        )
    };
    assert_eq!(value(&text, &reserve_code("FailedPrecondition")), Some(1.0));
    assert_eq!(value(&text, &reserve_code("OK")), Some(1.0));

    let contract = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/metrics.txt"
    ))
    .unwrap();
    let catalog_names: Vec<&str> = contract
        .lines()
        .map(str::trim)
        .filter(|n| n.starts_with("protomesh_catalog_"))
        .collect();
    assert!(
        !catalog_names.is_empty(),
        "metrics.txt names the catalog's metric"
    );
    for name in catalog_names {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{name}{{"))),
            "{name} is not in the catalog's /metrics:\n{text}"
        );
    }

    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
