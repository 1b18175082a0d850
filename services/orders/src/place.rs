//! Placing and cancelling orders: the steps across the cart and the catalog, with
//! compensation.
//!
//! Placing, in order: claim the request id with a PENDING order (the unique constraint makes
//! a retry find it); read the caller's cart (with the caller's token); reserve its stock at
//! the catalog under the order id (with the service token; the catalog prices the lines and
//! reserves all or nothing); record the priced lines; empty the cart; CONFIRM. If any step
//! after the reservation fails, the reservation is released and the PENDING order deleted,
//! so no half-made order and no stranded stock remain; if even that fails, the sweeper
//! ([`crate::sweep`]) fails the order and releases its stock later.

use protomesh::{
    auth::Principal,
    contracts::shop::{
        cart::v1::{EmptyCartRequest, GetCartRequest},
        catalog::v1::{ReleaseStockRequest, ReserveStockRequest, StockLine},
    },
};
use shop_common::money::line_total;
use tonic::Code;

use crate::{
    Error,
    domain::Status,
    service::Inner,
    store::{Claim, LineRow, StoredOrder},
    upstream::with_token,
};

/// A new order id: a UUIDv7 in simple form.
fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// What stock a placement may hold at the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Nothing: no reservation was asked for, or the catalog refused it (all or nothing).
    Nothing,
    /// Unknown: the reservation call failed in transit, so it may have been made, or may
    /// still be made by a call the catalog is finishing.
    Unknown,
    /// The reservation was made.
    Reserved,
}

/// The answer for a request id that already made `order`.
fn settled(order: StoredOrder, request_id: &str) -> Result<StoredOrder, Error> {
    if order.status == Status::Pending {
        Err(Error::InProgress(request_id.to_owned()))
    } else {
        Ok(order)
    }
}

/// An upstream failure.
fn upstream(service: &'static str) -> impl FnOnce(tonic::Status) -> Error {
    move |status| Error::Upstream { service, status }
}

impl Inner {
    /// Places an order from the caller's cart, once per request id.
    pub(crate) async fn place(
        &self,
        principal: &Principal,
        request_id: &str,
    ) -> Result<StoredOrder, Error> {
        let user_id = &principal.subject;
        if let Some(existing) = self.store.by_request(user_id, request_id).await? {
            return settled(existing, request_id);
        }
        let order_id = new_id();
        let claim = self
            .store
            .claim(&order_id, user_id, request_id, &self.currency)
            .await?;
        if let Claim::Existing(existing) = claim {
            return settled(existing, request_id);
        }
        let mut held = Held::Nothing;
        match self.complete(principal, &order_id, &mut held).await {
            Ok(order) => {
                tracing::info!(%order_id, total = order.row.total, "order placed");
                Ok(order)
            }
            Err(error) => {
                tracing::info!(%order_id, %error, "placing failed; compensating");
                self.abandon(&order_id, held).await;
                Err(error)
            }
        }
    }

    /// The steps after the claim, tracking in `held` what stock the order may hold.
    async fn complete(
        &self,
        principal: &Principal,
        order_id: &str,
        held: &mut Held,
    ) -> Result<StoredOrder, Error> {
        let cart = self
            .cart
            .clone()
            .get_cart(with_token(GetCartRequest {}, &principal.token)?)
            .await
            .map_err(upstream("cart"))?
            .into_inner()
            .cart
            .unwrap_or_default();
        if cart.items.is_empty() {
            return Err(Error::FailedPrecondition("the cart is empty".to_owned()));
        }
        let request = ReserveStockRequest {
            reservation_id: order_id.to_owned(),
            lines: cart
                .items
                .iter()
                .map(|item| StockLine {
                    product_id: item.product_id.clone(),
                    quantity: item.quantity,
                })
                .collect(),
        };
        *held = Held::Unknown;
        let reservation = match self
            .catalog
            .clone()
            .reserve_stock(with_token(request, &self.service_token)?)
            .await
        {
            Ok(response) => {
                *held = Held::Reserved;
                response.into_inner()
            }
            Err(status) if matches!(status.code(), Code::FailedPrecondition | Code::NotFound) => {
                // The catalog reserves all or nothing: nothing is held.
                *held = Held::Nothing;
                return Err(Error::FailedPrecondition(format!(
                    "the order cannot be placed: {}",
                    status.message()
                )));
            }
            Err(status) => return Err(upstream("catalog")(status)),
        };
        let mut total = 0i64;
        let mut lines = Vec::with_capacity(reservation.lines.len());
        for line in reservation.lines {
            let price = line.unit_price.unwrap_or_default();
            if price.currency_code != self.currency {
                return Err(Error::Internal(
                    "the catalog priced a line in another currency",
                ));
            }
            total = line_total(price.minor_units, line.quantity)
                .and_then(|t| total.checked_add(t))
                .ok_or(Error::Internal("an order total overflowed"))?;
            lines.push(LineRow {
                product_id: line.product_id,
                name: line.name,
                quantity: line.quantity,
                unit_price: price.minor_units,
            });
        }
        self.store.fill(order_id, &lines, total).await?;
        self.cart
            .clone()
            .empty_cart(with_token(EmptyCartRequest {}, &principal.token)?)
            .await
            .map_err(upstream("cart"))?;
        if !self
            .store
            .transition(order_id, Status::Pending, Status::Confirmed)
            .await?
        {
            return Err(Error::Internal("the order timed out while being placed"));
        }
        let order = self
            .store
            .get(order_id)
            .await?
            .ok_or(Error::Internal("a confirmed order vanished"))?;
        self.publish(&order);
        Ok(order)
    }

    /// Compensates a failed placement: releases the stock the order may hold, then deletes
    /// the PENDING order so its request id can be used again. When the reservation's fate is
    /// unknown and the release found nothing, a late reservation could still land: the order
    /// becomes FAILED instead, and the sweeper releases again after the pending timeout.
    /// What cannot be undone now is left PENDING for the sweeper.
    async fn abandon(&self, order_id: &str, held: Held) {
        let released = match held {
            Held::Nothing => true,
            Held::Unknown | Held::Reserved => match self.release(order_id).await {
                Ok(released) => released || held == Held::Reserved,
                Err(error) => {
                    tracing::warn!(%order_id, %error, "release failed; the sweeper will retry");
                    return;
                }
            },
        };
        if !released {
            match self
                .store
                .transition(order_id, Status::Pending, Status::Failed)
                .await
            {
                Ok(true) => {
                    if let Ok(Some(order)) = self.store.get(order_id).await {
                        self.publish(&order);
                    }
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%order_id, %error, "the sweeper will fail it"),
            }
            return;
        }
        match self.store.discard(order_id).await {
            Ok(true) => self.publish_gone(order_id),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%order_id, %error, "discard failed; the sweeper will fail it");
            }
        }
    }

    /// Returns an order's reserved stock to the catalog (idempotent there).
    pub(crate) async fn release(&self, order_id: &str) -> Result<bool, Error> {
        let request = ReleaseStockRequest {
            reservation_id: order_id.to_owned(),
        };
        Ok(self
            .catalog
            .clone()
            .release_stock(with_token(request, &self.service_token)?)
            .await
            .map_err(upstream("catalog"))?
            .into_inner()
            .released)
    }

    /// Cancels one of the caller's CONFIRMED orders and returns its stock.
    pub(crate) async fn cancel(&self, user_id: &str, order_id: &str) -> Result<StoredOrder, Error> {
        let order = self
            .store
            .get_for(order_id, user_id)
            .await?
            .ok_or_else(|| Error::NotFound(order_id.to_owned()))?;
        match order.status {
            Status::Cancelled => return Ok(order),
            Status::Confirmed => {}
            other => {
                return Err(Error::FailedPrecondition(format!(
                    "the order is {} and cannot be cancelled",
                    other.as_str()
                )));
            }
        }
        if !self
            .store
            .transition(order_id, Status::Confirmed, Status::Cancelled)
            .await?
        {
            // Another call moved it first: answer from where it is now.
            let now = self
                .store
                .get(order_id)
                .await?
                .ok_or_else(|| Error::NotFound(order_id.to_owned()))?;
            return if now.status == Status::Cancelled {
                Ok(now)
            } else {
                Err(Error::FailedPrecondition(format!(
                    "the order is {} and cannot be cancelled",
                    now.status.as_str()
                )))
            };
        }
        match self.release(order_id).await {
            Ok(_) => self.store.mark_released(order_id).await?,
            Err(error) => {
                tracing::warn!(%order_id, %error, "release failed; the sweeper will retry");
            }
        }
        let order = self
            .store
            .get(order_id)
            .await?
            .ok_or_else(|| Error::NotFound(order_id.to_owned()))?;
        self.publish(&order);
        Ok(order)
    }
}
