//! The `shop.cart.v1.CartService` implementation.

use std::{collections::HashMap, time::Duration};

use futures_util::future::try_join_all;
use protomesh::{
    auth::Principal,
    contracts::shop::{
        cart::v1::{
            AddCartItemRequest, AddCartItemResponse, Cart as CartMessage, CartItem,
            EmptyCartRequest, EmptyCartResponse, GetCartRequest, GetCartResponse,
            RemoveCartItemRequest, RemoveCartItemResponse, cart_service_server::CartService,
        },
        catalog::v1::{GetProductRequest, Product, catalog_service_client::CatalogServiceClient},
    },
};
use shop_common::{
    Db,
    money::{line_total, money},
};
use tonic::{Code, Request, Response, Status};

use crate::{
    Config, Error, MIGRATOR, Upstream,
    domain::{self, Addition},
    store::{LineRow, Store},
};

/// How long one call to the catalog may take.
const CATALOG_TIMEOUT: Duration = Duration::from_secs(5);

/// The cart service: a cheap, clonable handle.
#[derive(Debug, Clone)]
pub struct Cart {
    store: Store,
    catalog: CatalogServiceClient<Upstream>,
    currency: String,
}

impl Cart {
    /// Opens and migrates the database; calls the catalog through `catalog`.
    pub async fn open(config: &Config, catalog: Upstream) -> Result<Self, Error> {
        let db = Db::open(&config.database_url, config.max_connections, &MIGRATOR).await?;
        Ok(Self {
            store: Store::new(db),
            catalog: CatalogServiceClient::new(catalog),
            currency: config.currency.clone(),
        })
    }

    /// The product from the catalog; [`Error::ProductNotFound`] when it has none.
    async fn product(&self, product_id: &str) -> Result<Product, Error> {
        let mut request = Request::new(GetProductRequest {
            product_id: product_id.to_owned(),
        });
        request.set_timeout(CATALOG_TIMEOUT);
        match self.catalog.clone().get_product(request).await {
            Ok(response) => response
                .into_inner()
                .product
                .ok_or_else(|| Error::Catalog(Status::internal("catalog sent no product"))),
            Err(status) if status.code() == Code::NotFound => {
                Err(Error::ProductNotFound(product_id.to_owned()))
            }
            Err(status) => Err(Error::Catalog(status)),
        }
    }

    /// The catalog's products for every line of a user's cart, plus those in `known`.
    async fn products_of(
        &self,
        user_id: &str,
        mut known: Products,
    ) -> Result<(Vec<LineRow>, Products), Error> {
        let lines = self.store.lines(user_id).await?;
        let missing: Vec<&str> = lines
            .iter()
            .map(|line| line.product_id.as_str())
            .filter(|id| !known.contains_key(*id))
            .collect();
        let fetched = try_join_all(missing.into_iter().map(|id| async move {
            match self.product(id).await {
                Err(Error::ProductNotFound(id)) => Err(Error::Unpriceable(id)),
                other => other,
            }
        }))
        .await?;
        known.extend(fetched.into_iter().map(|p| (p.product_id.clone(), p)));
        Ok((lines, known))
    }

    /// A user's cart, priced at the catalog's current prices (`known` products are not
    /// fetched again).
    async fn priced(&self, user_id: &str, known: Products) -> Result<CartMessage, Error> {
        let (lines, products) = self.products_of(user_id, known).await?;
        let mut total = 0i64;
        let mut items = Vec::with_capacity(lines.len());
        for LineRow {
            product_id,
            quantity,
        } in lines
        {
            let product = products
                .get(&product_id)
                .ok_or_else(|| Error::Unpriceable(product_id.clone()))?;
            let price = product.price.clone().unwrap_or_default();
            let line = line_total(price.minor_units, quantity)
                .filter(|_| price.currency_code == self.currency)
                .ok_or_else(|| Error::Unpriceable(product_id.clone()))?;
            total = total
                .checked_add(line)
                .ok_or_else(|| Error::Unpriceable(product_id.clone()))?;
            items.push(CartItem {
                product_id,
                name: product.name.clone(),
                quantity,
                line_total: Some(money(&self.currency, line)),
                unit_price: Some(price),
            });
        }
        Ok(CartMessage {
            user_id: user_id.to_owned(),
            items,
            total: Some(money(&self.currency, total)),
        })
    }
}

/// Catalog products by id.
type Products = HashMap<String, Product>;

/// The signed-in caller's user id.
fn caller<T>(request: &Request<T>) -> Result<String, Error> {
    Ok(Principal::of(request)
        .map_err(Error::Unauthenticated)?
        .subject
        .clone())
}

#[tonic::async_trait]
impl CartService for Cart {
    async fn get_cart(
        &self,
        request: Request<GetCartRequest>,
    ) -> Result<Response<GetCartResponse>, Status> {
        let user_id = caller(&request)?;
        Ok(Response::new(GetCartResponse {
            cart: Some(self.priced(&user_id, Products::new()).await?),
        }))
    }

    async fn add_cart_item(
        &self,
        request: Request<AddCartItemRequest>,
    ) -> Result<Response<AddCartItemResponse>, Status> {
        let user_id = caller(&request)?;
        let addition = Addition::parse(request.into_inner()).map_err(Error::from)?;
        // Every catalog call comes before the write, so a catalog failure changes nothing
        // (a failed add that had written would double on retry).
        let product = self.product(&addition.product_id).await?;
        let known = Products::from([(product.product_id.clone(), product)]);
        let (_, known) = self.products_of(&user_id, known).await?;
        self.store.add(&user_id, &addition).await?;
        Ok(Response::new(AddCartItemResponse {
            cart: Some(self.priced(&user_id, known).await?),
        }))
    }

    async fn remove_cart_item(
        &self,
        request: Request<RemoveCartItemRequest>,
    ) -> Result<Response<RemoveCartItemResponse>, Status> {
        let user_id = caller(&request)?;
        let product_id = domain::removal(request.get_ref()).map_err(Error::from)?;
        let (_, known) = self.products_of(&user_id, Products::new()).await?;
        self.store.remove(&user_id, &product_id).await?;
        Ok(Response::new(RemoveCartItemResponse {
            cart: Some(self.priced(&user_id, known).await?),
        }))
    }

    async fn empty_cart(
        &self,
        request: Request<EmptyCartRequest>,
    ) -> Result<Response<EmptyCartResponse>, Status> {
        let user_id = caller(&request)?;
        self.store.empty(&user_id).await?;
        Ok(Response::new(EmptyCartResponse {
            cart: Some(self.priced(&user_id, Products::new()).await?),
        }))
    }
}
