//! The `shop.catalog.v1.CatalogService` implementation.

use protomesh::{
    auth::Principal,
    contracts::shop::catalog::v1::{
        CreateProductRequest, CreateProductResponse, GetProductRequest, GetProductResponse,
        ListProductsRequest, ListProductsResponse, Product, ReleaseStockRequest,
        ReleaseStockResponse, ReserveStockRequest, ReserveStockResponse, ReservedLine,
        UpdateProductPriceRequest, UpdateProductPriceResponse,
        catalog_service_server::CatalogService,
    },
    metrics::Registry,
};
use shop_common::{Db, money::money, time::timestamp};
use tonic::{Request, Response, Status};

use crate::{
    Config, Error, MIGRATOR,
    domain::{self, ListQuery, NewProduct, PriceChange, Reservation},
    metrics::CatalogMetrics,
    seed,
    store::{ProductRow, ReservedLineRow, Store},
};

/// The role that may create products and change prices.
pub const ADMIN_ROLE: &str = "admin";
/// The role that may reserve and release stock (other services).
pub const SERVICE_ROLE: &str = "service";

/// The catalog service: a cheap, clonable handle over the store.
#[derive(Debug, Clone)]
pub struct Catalog {
    store: Store,
    currency: String,
    metrics: CatalogMetrics,
}

impl Catalog {
    /// Opens and migrates the database, seeding the demo products when it is empty. Its
    /// metrics go to a registry of its own; see [`open_with_metrics`](Self::open_with_metrics).
    pub async fn open(config: &Config) -> Result<Self, Error> {
        Self::open_with_metrics(config, &Registry::new()).await
    }

    /// [`open`](Self::open), recording the catalog's metrics into `registry` (the process's,
    /// served on the admin port's `/metrics`).
    pub async fn open_with_metrics(config: &Config, registry: &Registry) -> Result<Self, Error> {
        let db = Db::open(&config.database_url, config.max_connections, &MIGRATOR).await?;
        let catalog = Self {
            store: Store::new(db),
            currency: config.currency.clone(),
            metrics: CatalogMetrics::register(registry),
        };
        if config.seed_demo && catalog.store.count().await? == 0 {
            let added = catalog
                .store
                .seed(&seed::demo_products(&config.currency))
                .await?;
            tracing::info!(added, "seeded the demo catalog");
        }
        Ok(catalog)
    }

    /// The store, for callers that embed the catalog.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The caller, who must hold `role`.
fn require<T>(request: &Request<T>, role: &'static str) -> Result<(), Error> {
    let principal = Principal::of(request).map_err(Error::Unauthenticated)?;
    if principal.has_role(role) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(role))
    }
}

#[tonic::async_trait]
impl CatalogService for Catalog {
    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        let query = ListQuery::parse(request.get_ref()).map_err(Error::from)?;
        let (rows, more) = self.store.list(&query).await?;
        let next_page_token = match rows.last() {
            Some(last) if more => query.next_token(&last.product_id),
            _ => String::new(),
        };
        Ok(Response::new(ListProductsResponse {
            products: rows.into_iter().map(product).collect(),
            next_page_token,
        }))
    }

    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<GetProductResponse>, Status> {
        let id =
            domain::product_id("product_id", &request.get_ref().product_id).map_err(Error::from)?;
        let row = self.store.get(&id).await?.ok_or(Error::NotFound(id))?;
        Ok(Response::new(GetProductResponse {
            product: Some(product(row)),
        }))
    }

    async fn create_product(
        &self,
        request: Request<CreateProductRequest>,
    ) -> Result<Response<CreateProductResponse>, Status> {
        require(&request, ADMIN_ROLE)?;
        let new = NewProduct::parse(request.into_inner(), &self.currency).map_err(Error::from)?;
        let row = self.store.create(&new).await?;
        tracing::info!(product_id = %row.product_id, sku = %row.sku, "product created");
        Ok(Response::new(CreateProductResponse {
            product: Some(product(row)),
        }))
    }

    async fn update_product_price(
        &self,
        request: Request<UpdateProductPriceRequest>,
    ) -> Result<Response<UpdateProductPriceResponse>, Status> {
        require(&request, ADMIN_ROLE)?;
        let change =
            PriceChange::parse(request.into_inner(), &self.currency).map_err(Error::from)?;
        let row = self.store.update_price(&change).await?;
        Ok(Response::new(UpdateProductPriceResponse {
            product: Some(product(row)),
        }))
    }

    async fn reserve_stock(
        &self,
        request: Request<ReserveStockRequest>,
    ) -> Result<Response<ReserveStockResponse>, Status> {
        require(&request, SERVICE_ROLE)?;
        let reservation = Reservation::parse(request.into_inner()).map_err(Error::from)?;
        let lines = self
            .store
            .reserve(&reservation)
            .await
            .inspect_err(|error| self.metrics.reservation_failed(error))?;
        Ok(Response::new(ReserveStockResponse {
            reservation_id: reservation.reservation_id,
            lines: lines.into_iter().map(reserved_line).collect(),
        }))
    }

    async fn release_stock(
        &self,
        request: Request<ReleaseStockRequest>,
    ) -> Result<Response<ReleaseStockResponse>, Status> {
        require(&request, SERVICE_ROLE)?;
        let id = domain::reservation_id(&request.get_ref().reservation_id).map_err(Error::from)?;
        let released = self.store.release(&id).await?;
        Ok(Response::new(ReleaseStockResponse { released }))
    }
}

/// A stored product on the wire.
fn product(row: ProductRow) -> Product {
    Product {
        price: Some(money(&row.currency, row.price)),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        product_id: row.product_id,
        sku: row.sku,
        name: row.name,
        description: row.description,
        category: row.category,
        stock: row.stock,
    }
}

/// A reserved line on the wire.
fn reserved_line(row: ReservedLineRow) -> ReservedLine {
    ReservedLine {
        unit_price: Some(money(&row.currency, row.unit_price)),
        product_id: row.product_id,
        name: row.name,
        quantity: row.quantity,
    }
}
