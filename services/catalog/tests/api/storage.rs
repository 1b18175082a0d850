//! What the database keeps: data across restarts, one seed for replicas sharing a database.

use protomesh::contracts::shop::catalog::v1::{
    ListProductsRequest, catalog_service_client::CatalogServiceClient,
};
use shop_common::testing::TestDb;

use crate::helpers::spawn_at;

shop_common::engine_tests!(
    data_survives_a_restart,
    replicas_share_one_seed,
    run_serves_until_shutdown,
);

/// A created product is still there after the server restarts, and the seed is not repeated.
async fn data_survives_a_restart(db: TestDb) {
    let url = db.fresh_url().await;
    let mut app = spawn_at(&url).await;
    let created = app.create("KEEP", 4).await;
    let count = app.all_products().await.len();
    app.server.stop().await;

    let mut again = spawn_at(&url).await;
    assert_eq!(again.product(&created.product_id).await, created);
    assert_eq!(again.all_products().await.len(), count);
}

/// Two replicas starting at once on one empty database migrate it and seed it exactly once.
async fn replicas_share_one_seed(db: TestDb) {
    let url = db.fresh_url().await;
    let (mut one, mut two) = tokio::join!(spawn_at(&url), spawn_at(&url));
    let products = one.all_products().await;
    assert_eq!(products.len(), 12);
    assert_eq!(two.all_products().await, products);
}

/// `run` serves the catalog on a bound listener and returns once its shutdown completes.
async fn run_serves_until_shutdown(db: TestDb) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = shop_catalog::Config::with_database_url(db.fresh_url().await);
    let server = tokio::spawn(shop_catalog::run(listener, config, async {
        stopped.await.ok();
    }));
    let mut client = CatalogServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let page = client
        .list_products(ListProductsRequest {
            page_size: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.products.len(), 3);
    drop(client);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
