//! Placing orders: pricing, idempotency, compensation, and the last items under contention.

use std::sync::atomic::Ordering;

use protomesh::contracts::shop::orders::v1::{CreateOrderRequest, OrderStatus};
use shop_common::testing::{Caller, TestDb};
use tonic::Code;

use crate::helpers::{bad_fields, spawn, usd};

shop_common::engine_tests!(
    places_an_order_from_the_cart,
    a_repeated_request_id_returns_the_same_order,
    concurrent_retries_make_one_order,
    an_empty_cart_places_nothing,
    short_stock_mid_order_reserves_nothing,
    compensates_when_a_later_step_fails,
    compensates_a_reservation_whose_response_was_lost,
    concurrent_orders_sell_exactly_the_stock,
    rejects_bad_create_requests,
);

/// An order takes the cart's lines at catalog prices, reserves their stock, is CONFIRMED and
/// empties the cart.
async fn places_an_order_from_the_cart(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 1999, 10).await;
    let b = app.product("B", 500, 4).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a, 2).await;
    app.add(&ann, &b, 1).await;

    let order = app.create(&ann, "req-1").await.unwrap();
    assert_eq!(order.status(), OrderStatus::Confirmed);
    assert_eq!(
        (order.user_id.as_str(), order.request_id.as_str()),
        ("ann", "req-1")
    );
    let lines: Vec<_> = order
        .lines
        .iter()
        .map(|l| {
            (
                l.product_id.clone(),
                l.quantity,
                l.unit_price.clone(),
                l.line_total.clone(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (a.clone(), 2, Some(usd(1999)), Some(usd(3998))),
            (b.clone(), 1, Some(usd(500)), Some(usd(500))),
        ]
    );
    assert_eq!(order.total, Some(usd(4498)));
    assert_eq!(order.lines[0].name, "Product A");
    assert_eq!((app.stock(&a).await, app.stock(&b).await), (8, 3));
    assert!(app.cart_lines(&ann).await.is_empty());
    assert_eq!(app.list(&ann).await, [order]);
}

/// Repeating a request id returns the first order and reserves nothing again, even with new
/// items in the cart; another user's identical request id is their own order.
async fn a_repeated_request_id_returns_the_same_order(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 100, 10).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a, 3).await;
    let first = app.create(&ann, "same").await.unwrap();
    app.add(&ann, &a, 1).await;
    let again = app.create(&ann, "same").await.unwrap();
    assert_eq!(again, first);
    assert_eq!(app.stock(&a).await, 7);
    assert_eq!(app.cart_lines(&ann).await, [(a.clone(), 1)]);

    let bob = Caller::customer("bob");
    app.add(&bob, &a, 2).await;
    let bobs = app.create(&bob, "same").await.unwrap();
    assert_ne!(bobs.order_id, first.order_id);
    assert_eq!(app.stock(&a).await, 5);
}

/// Five concurrent creates with one request id make one order: each call returns it or
/// ABORTED (still being placed), and stock is taken once.
async fn concurrent_retries_make_one_order(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 100, 10).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a, 2).await;
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let mut orders = app.orders.clone();
            let request = ann.request(CreateOrderRequest {
                request_id: "once".to_owned(),
            });
            tokio::spawn(async move { orders.create_order(request).await })
        })
        .collect();
    let mut ids = Vec::new();
    for call in calls {
        match call.await.unwrap() {
            Ok(response) => ids.push(response.into_inner().order.unwrap().order_id),
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    let orders = app.list(&ann).await;
    assert_eq!(orders.len(), 1);
    assert!(!ids.is_empty() && ids.iter().all(|id| *id == orders[0].order_id));
    assert_eq!(app.stock(&a).await, 8);
}

/// An empty cart is FAILED_PRECONDITION and makes no order.
async fn an_empty_cart_places_nothing(db: TestDb) {
    let mut app = spawn(&db).await;
    let ann = Caller::customer("ann");
    let err = app.create(&ann, "r").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("empty"), "{}", err.message());
    assert!(app.list(&ann).await.is_empty());
}

/// When one line's stock runs out, the order fails with FAILED_PRECONDITION naming it, no
/// line keeps stock, the cart is kept, and the same request id works once the cart is fixed.
async fn short_stock_mid_order_reserves_nothing(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 100, 10).await;
    let b = app.product("B", 100, 2).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a, 1).await;
    app.add(&ann, &b, 5).await;
    let err = app.create(&ann, "r1").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains(&b), "{}", err.message());
    assert_eq!((app.stock(&a).await, app.stock(&b).await), (10, 2));
    assert_eq!(app.cart_lines(&ann).await, [(a.clone(), 1), (b.clone(), 5)]);
    assert!(app.list(&ann).await.is_empty());

    app.cart
        .remove_cart_item(ann.request(
            protomesh::contracts::shop::cart::v1::RemoveCartItemRequest {
                product_id: b.clone(),
            },
        ))
        .await
        .unwrap();
    let order = app.create(&ann, "r1").await.unwrap();
    assert_eq!(order.status(), OrderStatus::Confirmed);
    assert_eq!(app.stock(&a).await, 9);
}

/// When emptying the cart fails after the stock was reserved, the reservation is released,
/// no order remains, the cart is kept, and a retry with the same request id succeeds.
async fn compensates_when_a_later_step_fails(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 100, 5).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a, 2).await;
    app.fail_empty_cart.store(true, Ordering::SeqCst);
    let err = app.create(&ann, "r").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(app.stock(&a).await, 5);
    assert!(app.list(&ann).await.is_empty());
    assert_eq!(app.cart_lines(&ann).await, [(a.clone(), 2)]);

    app.fail_empty_cart.store(false, Ordering::SeqCst);
    let order = app.create(&ann, "r").await.unwrap();
    assert_eq!(order.status(), OrderStatus::Confirmed);
    assert_eq!(app.stock(&a).await, 3);
    let report = app.handle.sweep(None).await.unwrap();
    assert_eq!((report.failed, report.released), (0, 0));
}

/// When the catalog reserves but its answer is lost, the order releases the reservation it
/// cannot see, leaves no order and a full cart, and a retry with the same request id
/// succeeds.
async fn compensates_a_reservation_whose_response_was_lost(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 100, 4).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a, 3).await;
    app.lose_reserve.store(true, Ordering::SeqCst);
    let err = app.create(&ann, "r").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(app.stock(&a).await, 4);
    assert!(app.list(&ann).await.is_empty());
    assert_eq!(app.cart_lines(&ann).await, [(a.clone(), 3)]);

    app.lose_reserve.store(false, Ordering::SeqCst);
    let order = app.create(&ann, "r").await.unwrap();
    assert_eq!(order.status(), OrderStatus::Confirmed);
    assert_eq!(app.stock(&a).await, 1);
}

/// Eight users order the last three units at once: exactly three orders are confirmed, the
/// rest are FAILED_PRECONDITION, and stock ends at zero.
async fn concurrent_orders_sell_exactly_the_stock(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("LAST", 100, 3).await;
    let users: Vec<Caller> = (0..8).map(|i| Caller::customer(&format!("u{i}"))).collect();
    for user in &users {
        app.add(user, &a, 1).await;
    }
    let calls: Vec<_> = users
        .iter()
        .map(|user| {
            let mut orders = app.orders.clone();
            let request = user.request(CreateOrderRequest {
                request_id: "buy".to_owned(),
            });
            tokio::spawn(async move { orders.create_order(request).await.map_err(|e| e.code()) })
        })
        .collect();
    let mut confirmed = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(response) => {
                assert_eq!(
                    response.into_inner().order.unwrap().status(),
                    OrderStatus::Confirmed
                );
                confirmed += 1;
            }
            Err(code) => assert_eq!(code, Code::FailedPrecondition),
        }
    }
    assert_eq!(confirmed, 3);
    assert_eq!(app.stock(&a).await, 0);
    let mut placed = 0;
    for user in &users {
        placed += app.list(user).await.len();
    }
    assert_eq!(placed, 3);
}

/// Malformed request ids are INVALID_ARGUMENT naming `request_id`; no token is UNAUTHENTICATED.
async fn rejects_bad_create_requests(db: TestDb) {
    let mut app = spawn(&db).await;
    let ann = Caller::customer("ann");
    for bad in ["", "has space", &"x".repeat(129)] {
        let err = app.create(&ann, bad).await.unwrap_err();
        assert_eq!(bad_fields(&err), ["request_id"], "{bad:?}");
    }
    let err = app
        .orders
        .create_order(CreateOrderRequest {
            request_id: "r".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(app.list(&ann).await.is_empty());
}
