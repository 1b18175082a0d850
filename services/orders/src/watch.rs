//! Order status events and the WatchOrder stream.
//!
//! Every state change made by this process is published on a tokio broadcast channel; a
//! watch subscribes before it reads the order, sends the current state first, then each
//! change, and ends after a final state. The broadcast is per process, so a watch also
//! re-reads the order every poll interval ([`crate::Config::watch_poll_interval`]): changes made by another replica (or by the
//! sweeper of another process) arrive within that time.

use protomesh::contracts::shop::orders::v1::{Order, OrderStatus, WatchOrderResponse};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::{domain, store::Store};

/// How many events a slow watcher may fall behind before it re-reads the order.
pub const EVENT_BUFFER: usize = 256;

/// The stream a WatchOrder call returns.
pub type WatchStream = ReceiverStream<Result<WatchOrderResponse, Status>>;

/// Whether a wire state is final.
fn is_final(order: &Order) -> bool {
    matches!(
        order.status(),
        OrderStatus::Shipped | OrderStatus::Cancelled | OrderStatus::Failed
    )
}

/// Streams `current` and then its changes from `events` until a final state, the client
/// leaving, or the server closing.
pub(crate) fn stream(
    current: Order,
    mut events: broadcast::Receiver<Order>,
    mut closing: watch::Receiver<bool>,
    store: Store,
    poll_interval: Duration,
) -> WatchStream {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let order_id = current.order_id.clone();
        let mut last = current;
        let send = |order: Order| {
            let tx = tx.clone();
            async move {
                tx.send(Ok(WatchOrderResponse { order: Some(order) }))
                    .await
                    .is_ok()
            }
        };
        if !send(last.clone()).await || is_final(&last) {
            return;
        }
        let mut poll = tokio::time::interval(poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        loop {
            let next = tokio::select! {
                event = events.recv() => match event {
                    Ok(order) if order.order_id == order_id => Some(order),
                    Ok(_) => None,
                    Err(broadcast::error::RecvError::Lagged(_)) => reread(&store, &order_id).await,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = poll.tick() => reread(&store, &order_id).await,
                _ = closing.changed() => {
                    let _ = tx
                        .send(Err(Status::unavailable("the server is shutting down; watch again")))
                        .await;
                    return;
                }
                () = tx.closed() => return,
            };
            let Some(order) = next else { continue };
            if order.status == last.status {
                continue;
            }
            last = order;
            if !send(last.clone()).await || is_final(&last) {
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}

/// The order as stored now: FAILED when it is gone (a placement that was undone), `None`
/// when it cannot be read now.
async fn reread(store: &Store, order_id: &str) -> Option<Order> {
    match store.get(order_id).await {
        Ok(Some(order)) => Some(crate::service::order(&order)),
        Ok(None) => Some(gone(order_id)),
        Err(_) => None,
    }
}

/// The event for an order that was never placed and no longer exists: FAILED, no lines.
pub(crate) fn gone(order_id: &str) -> Order {
    Order {
        order_id: order_id.to_owned(),
        status: domain::Status::Failed.to_proto().into(),
        ..Default::default()
    }
}
