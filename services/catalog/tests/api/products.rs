//! Listing, reading, creating and repricing products.

use std::collections::HashSet;

use protomesh::contracts::shop::catalog::v1::{
    GetProductRequest, ListProductsRequest, UpdateProductPriceRequest,
};
use shop_common::testing::{Caller, TestDb};
use tonic::Code;

use crate::helpers::{bad_fields, new_product, spawn_at, usd};

shop_common::engine_tests!(
    seeds_demo_catalog,
    pages_through_a_category,
    rejects_bad_list_requests,
    gets_a_product_or_not_found,
    admin_creates_products,
    create_rejects_bad_input_and_writes_nothing,
    admin_updates_prices,
);

/// An empty database is seeded with at least 10 products in several categories, listed in id
/// order.
async fn seeds_demo_catalog(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let products = app.all_products().await;
    assert!(products.len() >= 10, "{} products", products.len());
    let categories: HashSet<_> = products.iter().map(|p| p.category.as_str()).collect();
    assert!(categories.len() >= 3);
    let ids: Vec<_> = products.iter().map(|p| p.product_id.clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert!(
        products
            .iter()
            .all(|p| p.price.as_ref().unwrap().currency_code == "USD")
    );
}

/// Pages of a category hold only that category, follow on without overlap, and end with an
/// empty token.
async fn pages_through_a_category(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let page = |token: String| ListProductsRequest {
        page_size: 2,
        page_token: token,
        category: "books".to_owned(),
    };
    let first = app
        .client
        .list_products(page(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.products.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = app
        .client
        .list_products(page(first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.products.len(), 1);
    assert_eq!(second.next_page_token, "");
    let all: Vec<_> = first.products.iter().chain(&second.products).collect();
    assert!(all.iter().all(|p| p.category == "books"));
    assert!(all[1].product_id > all[0].product_id && all[2].product_id > all[1].product_id);
}

/// Bad page sizes and malformed or foreign page tokens are INVALID_ARGUMENT naming the field.
async fn rejects_bad_list_requests(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let list = |page_size, page_token: &str, category: &str| ListProductsRequest {
        page_size,
        page_token: page_token.to_owned(),
        category: category.to_owned(),
    };
    let err = app
        .client
        .list_products(list(-1, "", ""))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_size"]);
    let err = app
        .client
        .list_products(list(101, "", ""))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_size"]);
    let err = app
        .client
        .list_products(list(5, "not a token!", ""))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_token"]);
    let token = app
        .client
        .list_products(list(1, "", "books"))
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    let err = app
        .client
        .list_products(list(1, &token, "kitchen"))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_token"]);
    let err = app
        .client
        .list_products(list(1, "", &"x".repeat(65)))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["category"]);
}

/// A product is returned by id; an unknown id is NOT_FOUND; a malformed one INVALID_ARGUMENT.
async fn gets_a_product_or_not_found(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let first = app.all_products().await.remove(0);
    assert_eq!(app.product(&first.product_id).await, first);
    let get = |id: &str| GetProductRequest {
        product_id: id.to_owned(),
    };
    let err = app.client.get_product(get("nope")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    for bad in ["", "has space", &"a".repeat(65)] {
        let err = app.client.get_product(get(bad)).await.unwrap_err();
        assert_eq!(bad_fields(&err), ["product_id"], "{bad:?}");
    }
}

/// An admin creates a product; a taken SKU is ALREADY_EXISTS; customers and anonymous callers
/// are refused.
async fn admin_creates_products(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let created = app.create("TEST-1", 7).await;
    assert_eq!(
        (created.sku.as_str(), created.stock, created.price.clone()),
        ("TEST-1", 7, Some(usd(1000)))
    );
    assert_eq!(app.product(&created.product_id).await, created);
    let err = app
        .client
        .create_product(Caller::admin().request(new_product("TEST-1", 1)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = app
        .client
        .create_product(Caller::customer("u1").request(new_product("TEST-2", 1)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app
        .client
        .create_product(new_product("TEST-3", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

/// Every bad field of a create is named at once, and nothing is written.
async fn create_rejects_bad_input_and_writes_nothing(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let before = app.all_products().await.len();
    let mut bad = new_product("", -1);
    bad.name = "\u{7}".to_owned();
    bad.price = Some(usd(-5));
    let err = app
        .client
        .create_product(Caller::admin().request(bad))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["sku", "name", "price.minor_units", "stock"]
    );
    let mut euro = new_product("EURO", 1);
    euro.price.as_mut().unwrap().currency_code = "EUR".to_owned();
    let err = app
        .client
        .create_product(Caller::admin().request(euro))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["price.currency_code"]);
    assert_eq!(app.all_products().await.len(), before);
}

/// An admin changes a price; bad prices, unknown products and non-admins are refused without
/// a change.
async fn admin_updates_prices(db: TestDb) {
    let mut app = spawn_at(&db.fresh_url().await).await;
    let product = app.create("PRICE-1", 3).await;
    let update = |id: &str, price| UpdateProductPriceRequest {
        product_id: id.to_owned(),
        price,
    };
    let updated = app
        .client
        .update_product_price(Caller::admin().request(update(&product.product_id, Some(usd(2599)))))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(updated.price, Some(usd(2599)));
    let micros = |t: Option<prost_types::Timestamp>| t.map(|t| (t.seconds, t.nanos));
    assert!(micros(updated.update_time) >= micros(product.update_time));
    let admin = Caller::admin();
    let err = app
        .client
        .update_product_price(admin.request(update(&product.product_id, Some(usd(-1)))))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["price.minor_units"]);
    let err = app
        .client
        .update_product_price(admin.request(update(&product.product_id, None)))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["price"]);
    let err = app
        .client
        .update_product_price(admin.request(update("missing", Some(usd(1)))))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .client
        .update_product_price(
            Caller::customer("u1").request(update(&product.product_id, Some(usd(1)))),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        app.product(&product.product_id).await.price,
        Some(usd(2599))
    );
}
