//! The `shop.orders.v1.OrderService` implementation.

use std::{sync::Arc, time::Duration};

use protomesh::{
    auth::Principal,
    contracts::shop::{
        cart::v1::cart_service_client::CartServiceClient,
        catalog::v1::catalog_service_client::CatalogServiceClient,
        orders::v1::{
            CancelOrderRequest, CancelOrderResponse, CreateOrderRequest, CreateOrderResponse,
            GetOrderRequest, GetOrderResponse, ListOrdersRequest, ListOrdersResponse, Order,
            OrderLine, WatchOrderRequest, order_service_server::OrderService,
        },
    },
};
use shop_common::{Db, money::money, time::timestamp};
use tokio::{
    sync::{broadcast, watch},
    task::JoinHandle,
};
use tonic::{Request, Response, Status};

use crate::{
    Config, Error, MIGRATOR, Upstream,
    domain::{self, Cursor, ListQuery},
    store::{Store, StoredOrder},
    sweep::{self, SweepReport},
    watch::{EVENT_BUFFER, WatchStream, gone, stream},
};

/// What every handler and the sweeper share.
#[derive(Debug, Clone)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) cart: CartServiceClient<Upstream>,
    pub(crate) catalog: CatalogServiceClient<Upstream>,
    pub(crate) service_token: Arc<str>,
    pub(crate) currency: String,
    events: broadcast::Sender<Order>,
    closing: watch::Receiver<bool>,
}

impl Inner {
    /// Tells watchers of this order about its new state.
    pub(crate) fn publish(&self, stored: &StoredOrder) {
        // No receiver is fine: nobody is watching.
        let _ = self.events.send(order(stored));
    }

    /// Tells watchers of a discarded (never placed) order that it failed.
    pub(crate) fn publish_gone(&self, order_id: &str) {
        let _ = self.events.send(gone(order_id));
    }
}

/// Owns the background sweeper (aborted on drop) and the closing signal of watch streams.
#[derive(Debug)]
struct Guard {
    sweeper: Option<JoinHandle<()>>,
    closing: watch::Sender<bool>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(task) = self.sweeper.take() {
            task.abort();
        }
        self.closing.send_replace(true);
    }
}

/// The orders service: a cheap, clonable handle. The sweeper runs while any clone lives.
#[derive(Debug, Clone)]
pub struct Orders {
    inner: Inner,
    pending_timeout: Duration,
    watch_poll_interval: Duration,
    guard: Arc<Guard>,
}

impl Orders {
    /// Opens and migrates the database and starts the sweeper (unless `sweep_interval` is
    /// zero); calls the cart and the catalog through `cart` and `catalog`.
    pub async fn open(config: &Config, cart: Upstream, catalog: Upstream) -> Result<Self, Error> {
        let db = Db::open(&config.database_url, config.max_connections, &MIGRATOR).await?;
        let (closing_tx, closing) = watch::channel(false);
        let inner = Inner {
            store: Store::new(db),
            cart: CartServiceClient::new(cart),
            catalog: CatalogServiceClient::new(catalog),
            service_token: config.service_token.as_str().into(),
            currency: config.currency.clone(),
            events: broadcast::channel(EVENT_BUFFER).0,
            closing,
        };
        let sweeper = (!config.sweep_interval.is_zero()).then(|| {
            tokio::spawn(sweep::run(
                inner.clone(),
                config.sweep_interval,
                config.pending_timeout,
            ))
        });
        Ok(Self {
            inner,
            pending_timeout: config.pending_timeout,
            watch_poll_interval: config.watch_poll_interval.max(Duration::from_millis(10)),
            guard: Arc::new(Guard {
                sweeper,
                closing: closing_tx,
            }),
        })
    }

    /// Runs one sweep now, failing PENDING orders untouched for `pending_timeout` (the
    /// configured one when `None`) and releasing the stock of cancelled and failed orders.
    pub async fn sweep(&self, pending_timeout: Option<Duration>) -> Result<SweepReport, Error> {
        self.inner
            .sweep(pending_timeout.unwrap_or(self.pending_timeout))
            .await
    }

    /// Ends every open WatchOrder stream with UNAVAILABLE (call it when draining starts, so
    /// graceful shutdown does not wait on watchers).
    pub fn close(&self) {
        self.guard.closing.send_replace(true);
    }
}

/// The signed-in caller.
fn caller<T>(request: &Request<T>) -> Result<Principal, Error> {
    Principal::of(request)
        .cloned()
        .map_err(Error::Unauthenticated)
}

#[tonic::async_trait]
impl OrderService for Orders {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<CreateOrderResponse>, Status> {
        let principal = caller(&request)?;
        let request_id = domain::request_id(&request.get_ref().request_id).map_err(Error::from)?;
        let placed = self.inner.place(&principal, &request_id).await?;
        Ok(Response::new(CreateOrderResponse {
            order: Some(order(&placed)),
        }))
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<GetOrderResponse>, Status> {
        let principal = caller(&request)?;
        let order_id = domain::order_id(&request.get_ref().order_id).map_err(Error::from)?;
        let found = self
            .inner
            .store
            .get_for(&order_id, &principal.subject)
            .await?
            .ok_or(Error::NotFound(order_id))?;
        Ok(Response::new(GetOrderResponse {
            order: Some(order(&found)),
        }))
    }

    async fn list_orders(
        &self,
        request: Request<ListOrdersRequest>,
    ) -> Result<Response<ListOrdersResponse>, Status> {
        let principal = caller(&request)?;
        let query = ListQuery::parse(request.get_ref(), &principal.subject).map_err(Error::from)?;
        let (orders, more) = self.inner.store.list(&query).await?;
        let next_page_token = match orders.last() {
            Some(last) if more => query.next_token(&Cursor {
                create_time: last.row.create_time,
                order_id: last.row.order_id.clone(),
            }),
            _ => String::new(),
        };
        Ok(Response::new(ListOrdersResponse {
            orders: orders.iter().map(order).collect(),
            next_page_token,
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<CancelOrderRequest>,
    ) -> Result<Response<CancelOrderResponse>, Status> {
        let principal = caller(&request)?;
        let order_id = domain::order_id(&request.get_ref().order_id).map_err(Error::from)?;
        let cancelled = self.inner.cancel(&principal.subject, &order_id).await?;
        Ok(Response::new(CancelOrderResponse {
            order: Some(order(&cancelled)),
        }))
    }

    type WatchOrderStream = WatchStream;

    async fn watch_order(
        &self,
        request: Request<WatchOrderRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let principal = caller(&request)?;
        let order_id = domain::order_id(&request.get_ref().order_id).map_err(Error::from)?;
        if *self.inner.closing.borrow() {
            return Err(Status::unavailable("the server is shutting down"));
        }
        // Subscribe before reading, so no change between the read and the stream is missed.
        let events = self.inner.events.subscribe();
        let current = self
            .inner
            .store
            .get_for(&order_id, &principal.subject)
            .await?
            .ok_or(Error::NotFound(order_id))?;
        Ok(Response::new(stream(
            order(&current),
            events,
            self.inner.closing.clone(),
            self.inner.store.clone(),
            self.watch_poll_interval,
        )))
    }
}

/// A stored order on the wire.
pub(crate) fn order(stored: &StoredOrder) -> Order {
    let row = &stored.row;
    let currency = &row.currency;
    Order {
        order_id: row.order_id.clone(),
        user_id: row.user_id.clone(),
        request_id: row.request_id.clone(),
        status: stored.status.to_proto().into(),
        lines: stored
            .lines
            .iter()
            .map(|line| OrderLine {
                product_id: line.product_id.clone(),
                name: line.name.clone(),
                quantity: line.quantity,
                unit_price: Some(money(currency, line.unit_price)),
                line_total: Some(money(
                    currency,
                    line.unit_price.saturating_mul(line.quantity),
                )),
            })
            .collect(),
        total: Some(money(currency, row.total)),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}
