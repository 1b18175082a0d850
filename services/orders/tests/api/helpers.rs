//! Starting catalog, cart and orders for a test, and the calls tests make.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use protomesh::contracts::shop::{
    cart::v1::{
        AddCartItemRequest, AddCartItemResponse, EmptyCartRequest, EmptyCartResponse,
        GetCartRequest, GetCartResponse, RemoveCartItemRequest, RemoveCartItemResponse,
        cart_service_client::CartServiceClient,
        cart_service_server::{CartService, CartServiceServer},
    },
    catalog::v1::{
        CreateProductRequest, CreateProductResponse, GetProductRequest, GetProductResponse,
        ListProductsRequest, ListProductsResponse, Product, ReleaseStockRequest,
        ReleaseStockResponse, ReserveStockRequest, ReserveStockResponse, UpdateProductPriceRequest,
        UpdateProductPriceResponse,
        catalog_service_client::CatalogServiceClient,
        catalog_service_server::{CatalogService, CatalogServiceServer},
    },
    common::v1::Money,
    orders::v1::{
        CreateOrderRequest, ListOrdersRequest, Order, order_service_client::OrderServiceClient,
    },
};
use shop_common::testing::{Caller, TestDb, TestServer};
use shop_orders::Orders;
use tonic::{Code, Request, Response, Status, service::Routes, transport::Channel};
use tonic_types::StatusExt;

/// The real cart, except that EmptyCart fails while `fail_empty` is set: the fault that
/// makes an order placement fail after its stock was reserved.
struct FlakyCart {
    inner: shop_cart::Cart,
    fail_empty: Arc<AtomicBool>,
}

#[tonic::async_trait]
impl CartService for FlakyCart {
    async fn get_cart(
        &self,
        request: Request<GetCartRequest>,
    ) -> Result<Response<GetCartResponse>, Status> {
        self.inner.get_cart(request).await
    }

    async fn add_cart_item(
        &self,
        request: Request<AddCartItemRequest>,
    ) -> Result<Response<AddCartItemResponse>, Status> {
        self.inner.add_cart_item(request).await
    }

    async fn remove_cart_item(
        &self,
        request: Request<RemoveCartItemRequest>,
    ) -> Result<Response<RemoveCartItemResponse>, Status> {
        self.inner.remove_cart_item(request).await
    }

    async fn empty_cart(
        &self,
        request: Request<EmptyCartRequest>,
    ) -> Result<Response<EmptyCartResponse>, Status> {
        if self.fail_empty.load(Ordering::SeqCst) {
            return Err(Status::unavailable("injected fault: cart unavailable"));
        }
        self.inner.empty_cart(request).await
    }
}

/// The real catalog, except that while `lose_reserve` is set, ReserveStock reserves and
/// then answers UNAVAILABLE: a reservation whose response is lost in transit.
struct FlakyCatalog {
    inner: shop_catalog::Catalog,
    lose_reserve: Arc<AtomicBool>,
}

#[tonic::async_trait]
impl CatalogService for FlakyCatalog {
    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        self.inner.list_products(request).await
    }

    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<GetProductResponse>, Status> {
        self.inner.get_product(request).await
    }

    async fn create_product(
        &self,
        request: Request<CreateProductRequest>,
    ) -> Result<Response<CreateProductResponse>, Status> {
        self.inner.create_product(request).await
    }

    async fn update_product_price(
        &self,
        request: Request<UpdateProductPriceRequest>,
    ) -> Result<Response<UpdateProductPriceResponse>, Status> {
        self.inner.update_product_price(request).await
    }

    async fn reserve_stock(
        &self,
        request: Request<ReserveStockRequest>,
    ) -> Result<Response<ReserveStockResponse>, Status> {
        let response = self.inner.reserve_stock(request).await?;
        if self.lose_reserve.load(Ordering::SeqCst) {
            return Err(Status::unavailable("injected fault: response lost"));
        }
        Ok(response)
    }

    async fn release_stock(
        &self,
        request: Request<ReleaseStockRequest>,
    ) -> Result<Response<ReleaseStockResponse>, Status> {
        self.inner.release_stock(request).await
    }
}

/// The three services and clients of each.
pub(crate) struct App {
    /// A catalog client.
    pub(crate) catalog: CatalogServiceClient<Channel>,
    /// A cart client.
    pub(crate) cart: CartServiceClient<Channel>,
    /// An orders client.
    pub(crate) orders: OrderServiceClient<Channel>,
    /// The orders service itself (to sweep on demand).
    pub(crate) handle: Orders,
    /// Makes the cart's EmptyCart fail while set.
    pub(crate) fail_empty_cart: Arc<AtomicBool>,
    /// Makes the catalog's ReserveStock lose its response while set.
    pub(crate) lose_reserve: Arc<AtomicBool>,
    /// The orders database.
    pub(crate) orders_db: String,
    cart_url: String,
    catalog_url: String,
    _servers: Vec<TestServer>,
}

/// Starts a catalog (no demo products), a cart and an orders service, each over its own
/// fresh database; the orders sweeper does not run by itself.
pub(crate) async fn spawn(db: &TestDb) -> App {
    let mut catalog_config = shop_catalog::Config::with_database_url(db.fresh_url().await);
    catalog_config.seed_demo = false;
    let lose_reserve = Arc::new(AtomicBool::new(false));
    let catalog = FlakyCatalog {
        inner: shop_catalog::Catalog::open(&catalog_config)
            .await
            .expect("catalog"),
        lose_reserve: lose_reserve.clone(),
    };
    let catalog = TestServer::start(Routes::new(CatalogServiceServer::new(catalog))).await;

    let cart_config = shop_cart::Config::with_database_url(db.fresh_url().await);
    let upstream = shop_cart::upstream::lazy(&catalog.url()).expect("url");
    let fail_empty_cart = Arc::new(AtomicBool::new(false));
    let flaky = FlakyCart {
        inner: shop_cart::Cart::open(&cart_config, upstream)
            .await
            .expect("cart"),
        fail_empty: fail_empty_cart.clone(),
    };
    let cart = TestServer::start(Routes::new(CartServiceServer::new(flaky))).await;

    let orders_db = db.fresh_url().await;
    let (handle, orders) = start_orders(&orders_db, &cart.url(), &catalog.url()).await;
    App {
        catalog: CatalogServiceClient::new(catalog.channel.clone()),
        cart: CartServiceClient::new(cart.channel.clone()),
        orders: OrderServiceClient::new(orders.channel.clone()),
        handle,
        fail_empty_cart,
        lose_reserve,
        orders_db,
        cart_url: cart.url(),
        catalog_url: catalog.url(),
        _servers: vec![catalog, cart, orders],
    }
}

/// Starts an orders service over `database_url` whose sweeper does not run by itself and
/// whose watches re-read every 20 ms.
async fn start_orders(database_url: &str, cart: &str, catalog: &str) -> (Orders, TestServer) {
    let mut config = shop_orders::Config::new(database_url, Caller::service().token);
    config.sweep_interval = Duration::ZERO;
    config.watch_poll_interval = Duration::from_millis(20);
    let (handle, service) = shop_orders::service(
        &config,
        shop_orders::upstream::lazy(cart).expect("url"),
        shop_orders::upstream::lazy(catalog).expect("url"),
    )
    .await
    .expect("orders");
    (handle, TestServer::start(Routes::new(service)).await)
}

impl App {
    /// A second orders replica over the same database, and a client of it.
    pub(crate) async fn replica(&self) -> (OrderServiceClient<Channel>, TestServer) {
        let (_, server) = start_orders(&self.orders_db, &self.cart_url, &self.catalog_url).await;
        (OrderServiceClient::new(server.channel.clone()), server)
    }

    /// Creates a product (as admin).
    pub(crate) async fn product(&mut self, sku: &str, price: i64, stock: i64) -> String {
        let product: Product = self
            .catalog
            .create_product(Caller::admin().request(CreateProductRequest {
                sku: sku.to_owned(),
                name: format!("Product {sku}"),
                description: String::new(),
                category: "tests".to_owned(),
                price: Some(usd(price)),
                stock,
            }))
            .await
            .expect("create product")
            .into_inner()
            .product
            .expect("product");
        product.product_id
    }

    /// A product's stock now.
    pub(crate) async fn stock(&mut self, product_id: &str) -> i64 {
        self.catalog
            .get_product(GetProductRequest {
                product_id: product_id.to_owned(),
            })
            .await
            .expect("get product")
            .into_inner()
            .product
            .expect("product")
            .stock
    }

    /// Adds units to `who`'s cart.
    pub(crate) async fn add(&mut self, who: &Caller, product_id: &str, quantity: i64) {
        self.cart
            .add_cart_item(who.request(AddCartItemRequest {
                product_id: product_id.to_owned(),
                quantity,
            }))
            .await
            .expect("add to cart");
    }

    /// `who`'s cart lines.
    pub(crate) async fn cart_lines(&mut self, who: &Caller) -> Vec<(String, i64)> {
        self.cart
            .get_cart(who.request(GetCartRequest {}))
            .await
            .expect("get cart")
            .into_inner()
            .cart
            .expect("cart")
            .items
            .into_iter()
            .map(|i| (i.product_id, i.quantity))
            .collect()
    }

    /// Places an order for `who`.
    pub(crate) async fn create(&mut self, who: &Caller, request_id: &str) -> Result<Order, Status> {
        Ok(self
            .orders
            .create_order(who.request(CreateOrderRequest {
                request_id: request_id.to_owned(),
            }))
            .await?
            .into_inner()
            .order
            .expect("order"))
    }

    /// Every order of `who`, newest first.
    pub(crate) async fn list(&mut self, who: &Caller) -> Vec<Order> {
        self.orders
            .list_orders(who.request(ListOrdersRequest {
                page_size: 100,
                page_token: String::new(),
            }))
            .await
            .expect("list orders")
            .into_inner()
            .orders
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
