//! Reserving and releasing stock: all or nothing, idempotent, never below zero.

use protomesh::contracts::shop::catalog::v1::{
    ReleaseStockRequest, ReserveStockRequest, StockLine,
};
use shop_common::testing::{Caller, TestDb};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{bad_fields, spawn_at, usd};

shop_common::engine_tests!(
    reserves_and_releases_once,
    reservation_is_all_or_nothing,
    rejects_bad_reservations,
    concurrent_reservations_never_oversell,
);

fn reserve(id: &str, lines: &[(&str, i64)]) -> ReserveStockRequest {
    ReserveStockRequest {
        reservation_id: id.to_owned(),
        lines: lines
            .iter()
            .map(|&(product_id, quantity)| StockLine {
                product_id: product_id.to_owned(),
                quantity,
            })
            .collect(),
    }
}

fn release(id: &str) -> ReleaseStockRequest {
    ReleaseStockRequest {
        reservation_id: id.to_owned(),
    }
}

/// A reservation takes stock and prices its lines; repeating it changes nothing; releasing
/// returns the stock once.
async fn reserves_and_releases_once(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let a = app.create("A", 5).await;
    let b = app.create("B", 3).await;
    let svc = Caller::service();
    let request = reserve("r1", &[(&a.product_id, 2), (&b.product_id, 3)]);
    let first = app
        .client
        .reserve_stock(svc.request(request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.reservation_id, "r1");
    let lines: Vec<_> = first
        .lines
        .iter()
        .map(|l| {
            (
                l.product_id.clone(),
                l.quantity,
                l.unit_price.clone(),
                l.name.clone(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                a.product_id.clone(),
                2,
                Some(usd(1000)),
                "Product A".to_owned()
            ),
            (
                b.product_id.clone(),
                3,
                Some(usd(1000)),
                "Product B".to_owned()
            ),
        ]
    );
    assert_eq!(app.product(&a.product_id).await.stock, 3);
    assert_eq!(app.product(&b.product_id).await.stock, 0);

    let again = app
        .client
        .reserve_stock(svc.request(request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
    assert_eq!(app.product(&a.product_id).await.stock, 3);

    let released = app
        .client
        .release_stock(svc.request(release("r1")))
        .await
        .unwrap();
    assert!(released.into_inner().released);
    assert_eq!(app.product(&a.product_id).await.stock, 5);
    assert_eq!(app.product(&b.product_id).await.stock, 3);
    let twice = app
        .client
        .release_stock(svc.request(release("r1")))
        .await
        .unwrap();
    assert!(!twice.into_inner().released);
    let unknown = app
        .client
        .release_stock(svc.request(release("nope")))
        .await
        .unwrap();
    assert!(!unknown.into_inner().released);
    assert_eq!(app.product(&a.product_id).await.stock, 5);
}

/// A line short of stock fails the whole reservation (FAILED_PRECONDITION naming it), takes
/// nothing, and leaves the id free to use again.
async fn reservation_is_all_or_nothing(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let a = app.create("A", 5).await;
    let b = app.create("B", 1).await;
    let svc = Caller::service();
    let err = app
        .client
        .reserve_stock(svc.request(reserve("r1", &[(&a.product_id, 2), (&b.product_id, 2)])))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let failure = err.get_details_precondition_failure().expect("details");
    assert_eq!(
        failure.violations[0].subject,
        format!("products/{}", b.product_id)
    );
    assert_eq!(app.product(&a.product_id).await.stock, 5);
    assert_eq!(app.product(&b.product_id).await.stock, 1);

    let err = app
        .client
        .reserve_stock(svc.request(reserve("r1", &[(&a.product_id, 1), ("ghost", 1)])))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(app.product(&a.product_id).await.stock, 5);

    let ok = app
        .client
        .reserve_stock(svc.request(reserve("r1", &[(&a.product_id, 5), (&b.product_id, 1)])))
        .await
        .unwrap();
    assert_eq!(ok.into_inner().lines.len(), 2);
    assert_eq!(app.product(&a.product_id).await.stock, 0);
}

/// Malformed reservations are INVALID_ARGUMENT naming each bad line; only services may call.
async fn rejects_bad_reservations(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let a = app.create("A", 5).await;
    let svc = Caller::service();
    let err = app
        .client
        .reserve_stock(svc.request(reserve("", &[(&a.product_id, 0), (&a.product_id, 1)])))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["reservation_id", "lines[0].quantity", "lines[1].product_id"]
    );
    let err = app
        .client
        .reserve_stock(svc.request(reserve("r", &[])))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["lines"]);
    let err = app
        .client
        .release_stock(svc.request(release("bad id")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["reservation_id"]);
    let customer = Caller::customer("u1");
    let err = app
        .client
        .reserve_stock(customer.request(reserve("r", &[(&a.product_id, 1)])))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app
        .client
        .release_stock(customer.request(release("r")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(app.product(&a.product_id).await.stock, 5);
}

/// Twenty concurrent reservations of the last five units: exactly five succeed, the rest are
/// FAILED_PRECONDITION, and stock ends at zero.
async fn concurrent_reservations_never_oversell(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let product = app.create("LAST", 5).await;
    let calls = (0..20).map(|i| {
        let mut client = app.client.clone();
        let request =
            Caller::service().request(reserve(&format!("r{i}"), &[(&product.product_id, 1)]));
        tokio::spawn(async move { client.reserve_stock(request).await.map_err(|e| e.code()) })
    });
    let mut ok = 0;
    for call in calls.collect::<Vec<_>>() {
        match call.await.unwrap() {
            Ok(_) => ok += 1,
            Err(code) => assert_eq!(code, Code::FailedPrecondition),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(app.product(&product.product_id).await.stock, 0);
}
