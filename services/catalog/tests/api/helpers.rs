//! Starting a catalog server for a test, and reading statuses.

use protomesh::contracts::shop::{
    catalog::v1::{
        CreateProductRequest, GetProductRequest, ListProductsRequest, Product,
        catalog_service_client::CatalogServiceClient,
    },
    common::v1::Money,
};
use shop_catalog::Config;
use shop_common::testing::{Caller, TestServer};
use tonic::{Code, Status, service::Routes, transport::Channel};
use tonic_types::StatusExt;

/// A running catalog and a client of it.
pub(crate) struct App {
    /// The server.
    pub(crate) server: TestServer,
    /// A client connected to it.
    pub(crate) client: CatalogServiceClient<Channel>,
}

/// Starts a catalog over the database at `url`.
pub(crate) async fn spawn_at(url: &str) -> App {
    let service = shop_catalog::service(&Config::with_database_url(url))
        .await
        .expect("catalog starts");
    let server = TestServer::start(Routes::new(service)).await;
    let client = CatalogServiceClient::new(server.channel.clone());
    App { server, client }
}

impl App {
    /// Every product, through the public listing.
    pub(crate) async fn all_products(&mut self) -> Vec<Product> {
        self.client
            .list_products(ListProductsRequest {
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .products
    }

    /// One product's current state.
    pub(crate) async fn product(&mut self, id: &str) -> Product {
        self.client
            .get_product(GetProductRequest {
                product_id: id.to_owned(),
            })
            .await
            .expect("get")
            .into_inner()
            .product
            .expect("product")
    }

    /// Creates a product as admin with `stock` units at 10.00 USD.
    pub(crate) async fn create(&mut self, sku: &str, stock: i64) -> Product {
        self.client
            .create_product(Caller::admin().request(new_product(sku, stock)))
            .await
            .expect("create")
            .into_inner()
            .product
            .expect("product")
    }
}

/// A valid create request.
pub(crate) fn new_product(sku: &str, stock: i64) -> CreateProductRequest {
    CreateProductRequest {
        sku: sku.to_owned(),
        name: format!("Product {sku}"),
        description: "A test product.".to_owned(),
        category: "tests".to_owned(),
        price: Some(usd(1000)),
        stock,
    }
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
