//! When the catalog is gone.

use protomesh::contracts::shop::cart::v1::{GetCartRequest, RemoveCartItemRequest};
use shop_common::testing::{Caller, TestDb};
use tokio::net::TcpListener;
use tonic::Code;

use crate::helpers::{lines, spawn, start_catalog};

shop_common::engine_tests!(catalog_outage_is_unavailable_and_writes_nothing);

/// With the catalog stopped, adding, removing and reading are UNAVAILABLE; once the catalog is back on
/// its port, the cart holds exactly what it held before.
async fn catalog_outage_is_unavailable_and_writes_nothing(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 100).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a.product_id, 1).await.unwrap();
    let addr = app.catalog_server.addr;
    app.catalog_server.stop().await;

    let err = app.add(&ann, &a.product_id, 1).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let err = app
        .cart
        .get_cart(ann.request(GetCartRequest {}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let remove = RemoveCartItemRequest {
        product_id: a.product_id.clone(),
    };
    let err = app
        .cart
        .remove_cart_item(ann.request(remove))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");

    let listener = TcpListener::bind(addr)
        .await
        .expect("rebind the catalog's port");
    let _catalog = start_catalog(&app.catalog_db, listener).await;
    assert_eq!(lines(&app.get(&ann).await), [(a.product_id.clone(), 1)]);
}
