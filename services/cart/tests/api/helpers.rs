//! Starting a catalog and a cart for a test.

use protomesh::contracts::shop::{
    cart::v1::{AddCartItemRequest, Cart, GetCartRequest, cart_service_client::CartServiceClient},
    catalog::v1::{CreateProductRequest, Product, catalog_service_client::CatalogServiceClient},
    common::v1::Money,
};
use shop_common::testing::{Caller, TestDb, TestServer};
use tokio::net::TcpListener;
use tonic::{Code, Status, service::Routes, transport::Channel};
use tonic_types::StatusExt;

/// A running catalog and cart, and clients of both.
pub(crate) struct App {
    /// The catalog's database.
    pub(crate) catalog_db: String,
    /// The catalog server.
    pub(crate) catalog_server: TestServer,
    /// The cart server.
    pub(crate) _cart_server: TestServer,
    /// A catalog client.
    pub(crate) catalog: CatalogServiceClient<Channel>,
    /// A cart client.
    pub(crate) cart: CartServiceClient<Channel>,
}

/// Starts a catalog (without demo products) and a cart that calls it, each with its own
/// fresh database.
pub(crate) async fn spawn(db: &TestDb) -> App {
    let catalog_db = db.fresh_url().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let catalog_server = start_catalog(&catalog_db, listener).await;

    let cart_config = shop_cart::Config::with_database_url(db.fresh_url().await);
    let upstream = shop_cart::upstream::lazy(&catalog_server.url()).expect("catalog url");
    let cart_service = shop_cart::service(&cart_config, upstream)
        .await
        .expect("cart");
    let cart_server = TestServer::start(Routes::new(cart_service)).await;
    App {
        catalog: CatalogServiceClient::new(catalog_server.channel.clone()),
        cart: CartServiceClient::new(cart_server.channel.clone()),
        catalog_db,
        catalog_server,
        _cart_server: cart_server,
    }
}

/// Starts a catalog without demo products over `database_url`, on `listener`.
pub(crate) async fn start_catalog(database_url: &str, listener: TcpListener) -> TestServer {
    let mut config = shop_catalog::Config::with_database_url(database_url);
    config.seed_demo = false;
    let service = shop_catalog::service(&config).await.expect("catalog");
    TestServer::start_on(listener, Routes::new(service)).await
}

impl App {
    /// Creates a product (as admin) priced `price` minor units.
    pub(crate) async fn product(&mut self, sku: &str, price: i64) -> Product {
        self.catalog
            .create_product(Caller::admin().request(CreateProductRequest {
                sku: sku.to_owned(),
                name: format!("Product {sku}"),
                description: String::new(),
                category: "tests".to_owned(),
                price: Some(usd(price)),
                stock: 100,
            }))
            .await
            .expect("create product")
            .into_inner()
            .product
            .expect("product")
    }

    /// Adds units to `who`'s cart.
    pub(crate) async fn add(
        &mut self,
        who: &Caller,
        product_id: &str,
        quantity: i64,
    ) -> Result<Cart, Status> {
        Ok(self
            .cart
            .add_cart_item(who.request(AddCartItemRequest {
                product_id: product_id.to_owned(),
                quantity,
            }))
            .await?
            .into_inner()
            .cart
            .expect("cart"))
    }

    /// `who`'s cart.
    pub(crate) async fn get(&mut self, who: &Caller) -> Cart {
        self.cart
            .get_cart(who.request(GetCartRequest {}))
            .await
            .expect("get cart")
            .into_inner()
            .cart
            .expect("cart")
    }
}

/// The (product id, quantity) pairs of a cart, in order.
pub(crate) fn lines(cart: &Cart) -> Vec<(String, i64)> {
    cart.items
        .iter()
        .map(|i| (i.product_id.clone(), i.quantity))
        .collect()
}

/// An amount in USD.
pub(crate) fn usd(minor_units: i64) -> Money {
    Money {
        currency_code: "USD".to_owned(),
        minor_units,
    }
}

/// The fields named by an INVALID_ARGUMENT status, after checking its code.
pub(crate) fn bad_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("a BadRequest detail")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}
