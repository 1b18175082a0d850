//! Reading, listing, cancelling and watching orders, each user only their own.

use protomesh::contracts::shop::orders::v1::{
    CancelOrderRequest, GetOrderRequest, ListOrdersRequest, OrderStatus, WatchOrderRequest,
};
use shop_common::testing::{Caller, TestDb};
use tonic::Code;

use crate::helpers::{App, bad_fields, spawn};

shop_common::engine_tests!(
    users_cannot_see_or_cancel_each_others_orders,
    cancel_releases_stock_once,
    lists_newest_first_in_pages,
    watch_streams_until_a_final_state,
    watch_sees_changes_made_by_another_replica,
    rejects_bad_read_requests,
);

/// One confirmed order of `who` for 2 units of a new product; returns (order id, product).
async fn placed(app: &mut App, who: &Caller, sku: &str) -> (String, String) {
    let product = app.product(sku, 100, 10).await;
    app.add(who, &product, 2).await;
    let order = app.create(who, &format!("req-{sku}")).await.unwrap();
    (order.order_id, product)
}

fn get(id: &str) -> GetOrderRequest {
    GetOrderRequest {
        order_id: id.to_owned(),
    }
}

fn cancel(id: &str) -> CancelOrderRequest {
    CancelOrderRequest {
        order_id: id.to_owned(),
    }
}

/// Another user gets NOT_FOUND for reading, cancelling or watching an order, and an empty
/// list; the owner's order is untouched.
async fn users_cannot_see_or_cancel_each_others_orders(db: TestDb) {
    let mut app = spawn(&db).await;
    let ann = Caller::customer("ann");
    let bob = Caller::customer("bob");
    let (id, _) = placed(&mut app, &ann, "A").await;
    let err = app
        .orders
        .get_order(bob.request(get(&id)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .orders
        .cancel_order(bob.request(cancel(&id)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .orders
        .watch_order(bob.request(WatchOrderRequest {
            order_id: id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(app.list(&bob).await.is_empty());
    let order = app
        .orders
        .get_order(ann.request(get(&id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(order.order.unwrap().status(), OrderStatus::Confirmed);
}

/// Cancelling returns the stock and is CANCELLED; cancelling again changes nothing.
async fn cancel_releases_stock_once(db: TestDb) {
    let mut app = spawn(&db).await;
    let ann = Caller::customer("ann");
    let (id, product) = placed(&mut app, &ann, "A").await;
    assert_eq!(app.stock(&product).await, 8);
    let first = app
        .orders
        .cancel_order(ann.request(cancel(&id)))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(first.status(), OrderStatus::Cancelled);
    assert_eq!(app.stock(&product).await, 10);
    let second = app
        .orders
        .cancel_order(ann.request(cancel(&id)))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(second, first);
    assert_eq!(app.stock(&product).await, 10);
    let report = app.handle.sweep(None).await.unwrap();
    assert_eq!(report.released, 0, "the cancel released the stock itself");
}

/// Orders list newest first, a page at a time; a token is bound to its user.
async fn lists_newest_first_in_pages(db: TestDb) {
    let mut app = spawn(&db).await;
    let ann = Caller::customer("ann");
    let mut ids = Vec::new();
    for sku in ["A", "B", "C"] {
        ids.push(placed(&mut app, &ann, sku).await.0);
    }
    let page = |token: String| ListOrdersRequest {
        page_size: 2,
        page_token: token,
    };
    let first = app
        .orders
        .list_orders(ann.request(page(String::new())))
        .await
        .unwrap()
        .into_inner();
    let first_ids: Vec<_> = first.orders.iter().map(|o| o.order_id.clone()).collect();
    assert_eq!(first_ids, [ids[2].clone(), ids[1].clone()]);
    let second = app
        .orders
        .list_orders(ann.request(page(first.next_page_token.clone())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.orders.len(), 1);
    assert_eq!(second.orders[0].order_id, ids[0]);
    assert_eq!(second.next_page_token, "");
    let bob = Caller::customer("bob");
    let err = app
        .orders
        .list_orders(bob.request(page(first.next_page_token)))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_token"]);
}

/// A watch sends the current state first, then the change to CANCELLED, then ends; a watch
/// of a final order sends it once and ends.
async fn watch_streams_until_a_final_state(db: TestDb) {
    let mut app = spawn(&db).await;
    let ann = Caller::customer("ann");
    let (id, _) = placed(&mut app, &ann, "A").await;
    let watch = |id: &str| {
        ann.request(WatchOrderRequest {
            order_id: id.to_owned(),
        })
    };
    let mut stream = app
        .orders
        .watch_order(watch(&id))
        .await
        .unwrap()
        .into_inner();
    let current = stream.message().await.unwrap().unwrap().order.unwrap();
    assert_eq!(current.status(), OrderStatus::Confirmed);
    app.orders
        .cancel_order(ann.request(cancel(&id)))
        .await
        .unwrap();
    let change = stream.message().await.unwrap().unwrap().order.unwrap();
    assert_eq!(change.status(), OrderStatus::Cancelled);
    assert_eq!(change.lines, current.lines);
    assert!(stream.message().await.unwrap().is_none());

    let mut again = app
        .orders
        .watch_order(watch(&id))
        .await
        .unwrap()
        .into_inner();
    let only = again.message().await.unwrap().unwrap().order.unwrap();
    assert_eq!(only.status(), OrderStatus::Cancelled);
    assert!(again.message().await.unwrap().is_none());
}

/// A watch on one replica sees a cancel made through another replica (sharing the
/// database), then ends.
async fn watch_sees_changes_made_by_another_replica(db: TestDb) {
    let mut app = spawn(&db).await;
    let ann = Caller::customer("ann");
    let (id, _) = placed(&mut app, &ann, "A").await;
    let (mut other, _server) = app.replica().await;
    let mut stream = other
        .watch_order(ann.request(WatchOrderRequest {
            order_id: id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap().order.unwrap();
    assert_eq!(first.status(), OrderStatus::Confirmed);
    app.orders
        .cancel_order(ann.request(cancel(&id)))
        .await
        .unwrap();
    let change = stream.message().await.unwrap().unwrap().order.unwrap();
    assert_eq!(change.status(), OrderStatus::Cancelled);
    assert!(stream.message().await.unwrap().is_none());
}

/// Malformed ids, page sizes and tokens are INVALID_ARGUMENT naming the field; unknown ids
/// NOT_FOUND; no token UNAUTHENTICATED.
async fn rejects_bad_read_requests(db: TestDb) {
    let mut app = spawn(&db).await;
    let ann = Caller::customer("ann");
    let err = app
        .orders
        .get_order(ann.request(get("")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["order_id"]);
    let err = app
        .orders
        .cancel_order(ann.request(cancel("a/b")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["order_id"]);
    let err = app
        .orders
        .get_order(ann.request(get("unknown")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .orders
        .list_orders(ann.request(ListOrdersRequest {
            page_size: -3,
            page_token: "%%%".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_size", "page_token"]);
    let err = app.orders.get_order(get("x")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}
