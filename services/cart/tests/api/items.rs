//! Adding, pricing, removing and emptying, each user in their own cart.

use protomesh::contracts::shop::{
    cart::v1::{EmptyCartRequest, GetCartRequest, RemoveCartItemRequest},
    catalog::v1::UpdateProductPriceRequest,
};
use shop_common::testing::{Caller, TestDb};
use tonic::Code;

use crate::helpers::{bad_fields, lines, spawn, usd};

shop_common::engine_tests!(
    adds_merges_and_prices_items,
    prices_follow_the_catalog,
    removes_and_empties,
    rejects_bad_items_without_writing,
    users_never_touch_each_others_carts,
);

/// Adding twice merges the line; lines keep their first-added order; prices, line totals and
/// the total are exact.
async fn adds_merges_and_prices_items(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 1999).await;
    let b = app.product("B", 250).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a.product_id, 2).await.unwrap();
    app.add(&ann, &b.product_id, 1).await.unwrap();
    let cart = app.add(&ann, &a.product_id, 3).await.unwrap();
    assert_eq!(cart.user_id, "ann");
    assert_eq!(
        lines(&cart),
        [(a.product_id.clone(), 5), (b.product_id.clone(), 1)]
    );
    assert_eq!(cart.items[0].name, "Product A");
    assert_eq!(cart.items[0].unit_price, Some(usd(1999)));
    assert_eq!(cart.items[0].line_total, Some(usd(9995)));
    assert_eq!(cart.items[1].line_total, Some(usd(250)));
    assert_eq!(cart.total, Some(usd(10245)));
    assert_eq!(app.get(&ann).await, cart);
}

/// The cart shows the catalog's current price, not the price when the item was added.
async fn prices_follow_the_catalog(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 1000).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a.product_id, 2).await.unwrap();
    app.catalog
        .update_product_price(Caller::admin().request(UpdateProductPriceRequest {
            product_id: a.product_id.clone(),
            price: Some(usd(1250)),
        }))
        .await
        .unwrap();
    let cart = app.get(&ann).await;
    assert_eq!(cart.items[0].unit_price, Some(usd(1250)));
    assert_eq!(cart.total, Some(usd(2500)));
}

/// Removing takes one product out (a missing one is a no-op); emptying leaves a zero total.
async fn removes_and_empties(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 100).await;
    let b = app.product("B", 200).await;
    let ann = Caller::customer("ann");
    app.add(&ann, &a.product_id, 1).await.unwrap();
    app.add(&ann, &b.product_id, 1).await.unwrap();
    let remove = |id: &str| {
        ann.request(RemoveCartItemRequest {
            product_id: id.to_owned(),
        })
    };
    let cart = app
        .cart
        .remove_cart_item(remove(&a.product_id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lines(&cart.cart.unwrap()), [(b.product_id.clone(), 1)]);
    let cart = app
        .cart
        .remove_cart_item(remove("not-there"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lines(&cart.cart.unwrap()), [(b.product_id.clone(), 1)]);
    let err = app.cart.remove_cart_item(remove("")).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["product_id"]);
    let emptied = app
        .cart
        .empty_cart(ann.request(EmptyCartRequest {}))
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert!(emptied.items.is_empty());
    assert_eq!(emptied.total, Some(usd(0)));
    assert_eq!(app.get(&ann).await, emptied);
}

/// Bad quantities and ids are INVALID_ARGUMENT naming the field, an unknown product is
/// NOT_FOUND, more than 1000 units of a line is FAILED_PRECONDITION; none of them changes
/// the cart.
async fn rejects_bad_items_without_writing(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 100).await;
    let ann = Caller::customer("ann");
    for quantity in [0, -1, 1001] {
        let err = app.add(&ann, &a.product_id, quantity).await.unwrap_err();
        assert_eq!(bad_fields(&err), ["quantity"], "{quantity}");
    }
    let err = app.add(&ann, "bad id", 1).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["product_id"]);
    let err = app.add(&ann, "ghost", 1).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(app.get(&ann).await.items.is_empty());

    app.add(&ann, &a.product_id, 1000).await.unwrap();
    let err = app.add(&ann, &a.product_id, 1).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(lines(&app.get(&ann).await), [(a.product_id.clone(), 1000)]);
}

/// Each caller sees and changes only their own cart; an anonymous caller is UNAUTHENTICATED.
async fn users_never_touch_each_others_carts(db: TestDb) {
    let mut app = spawn(&db).await;
    let a = app.product("A", 100).await;
    let ann = Caller::customer("ann");
    let bob = Caller::customer("bob");
    app.add(&ann, &a.product_id, 2).await.unwrap();
    let bobs = app.get(&bob).await;
    assert_eq!((bobs.user_id.as_str(), bobs.items.len()), ("bob", 0));
    app.cart
        .remove_cart_item(bob.request(RemoveCartItemRequest {
            product_id: a.product_id.clone(),
        }))
        .await
        .unwrap();
    app.cart
        .empty_cart(bob.request(EmptyCartRequest {}))
        .await
        .unwrap();
    assert_eq!(lines(&app.get(&ann).await), [(a.product_id.clone(), 2)]);
    let err = app.cart.get_cart(GetCartRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}
