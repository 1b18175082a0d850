//! Recovery after a crash mid-placement: the sweeper fails the stale order and releases its
//! stock.

use std::time::Duration;

use protomesh::contracts::shop::{
    catalog::v1::{ReserveStockRequest, StockLine},
    orders::v1::{GetOrderRequest, OrderStatus},
};
use shop_common::testing::{Caller, TestDb};
use sqlx::Connection;

use crate::helpers::spawn;

shop_common::engine_tests!(sweeper_fails_a_crashed_placement_and_releases_its_stock);

/// A PENDING order whose process died after reserving stock is failed by the sweeper, its
/// stock comes back once, and its request id then returns the FAILED order.
async fn sweeper_fails_a_crashed_placement_and_releases_its_stock(db: TestDb) {
    let mut app = spawn(&db).await;
    let product = app.product("A", 100, 5).await;
    let ann = Caller::customer("ann");
    // What a crash after the reservation leaves: a PENDING order and its reserved stock.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.orders_db).await.unwrap();
    sqlx::query(
        "INSERT INTO orders (order_id, user_id, request_id, status, currency, total, \
         stock_released, create_time, update_time) \
         VALUES ('crashed1', 'ann', 'r-crash', 'PENDING', 'USD', 0, 0, $1, $1)",
    )
    .bind(shop_common::time::now_micros())
    .execute(&mut conn)
    .await
    .unwrap();
    app.catalog
        .reserve_stock(Caller::service().request(ReserveStockRequest {
            reservation_id: "crashed1".to_owned(),
            lines: vec![StockLine {
                product_id: product.clone(),
                quantity: 3,
            }],
        }))
        .await
        .unwrap();
    assert_eq!(app.stock(&product).await, 2);

    let young = app
        .handle
        .sweep(Some(Duration::from_secs(3600 * 24 * 365 * 100)))
        .await;
    assert_eq!(
        young.unwrap().failed,
        0,
        "a PENDING order younger than the timeout is left alone"
    );
    let report = app.handle.sweep(Some(Duration::ZERO)).await.unwrap();
    assert_eq!((report.failed, report.released), (1, 1));
    assert_eq!(app.stock(&product).await, 5);
    let order = app
        .orders
        .get_order(ann.request(GetOrderRequest {
            order_id: "crashed1".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(order.status(), OrderStatus::Failed);
    let again = app.handle.sweep(Some(Duration::ZERO)).await.unwrap();
    assert_eq!((again.failed, again.released), (0, 0));
    assert_eq!(
        app.create(&ann, "r-crash").await.unwrap().order_id,
        "crashed1"
    );
}
