//! A port's open connections, each told to finish (HTTP/2 GOAWAY, HTTP/1.1 close after the
//! response in progress) when the port drains, and waited for.
//!
//! hyper-util's `GracefulShutdown` does the same through a `watch` channel whose `changed()`
//! future every connection polls each time it is polled, several times per request: about 500
//! instructions per REST call through the gateway (callgrind). Here a poll costs one atomic
//! load while the connection's task keeps its waker; the waker is stored in a shared table
//! only when it changes, and the drain wakes every stored one.
//!
//! A slot given an [`Idle`] also tells its connection to finish once that expires (see
//! [`idle`](super::idle)).

use std::{
    future::Future,
    pin::{Pin, pin},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Waker},
};

use hyper_util::server::graceful::GracefulConnection;
use slab::Slab;
use tokio::sync::Notify;

use super::idle::Idle;
use crate::sync::lock;

/// The connections of one port (cheap to clone: clones share them).
#[derive(Debug, Clone, Default)]
pub struct Connections {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Set once, when the port drains.
    draining: AtomicBool,
    /// One slot per watched connection: its task's waker, once it has been polled.
    wakers: Mutex<Slab<Option<Waker>>>,
    /// Told when the last watched connection ends during a drain.
    done: Notify,
}

impl Connections {
    /// No connections yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many watched connections are open.
    pub fn count(&self) -> usize {
        lock(&self.shared.wakers).len()
    }

    /// Runs `connection` to its end, telling it to finish once [`drain`](Self::drain) is
    /// called (at once if it already has been).
    pub fn watch<C>(&self, connection: C) -> impl Future<Output = C::Output> + Send + use<C>
    where
        C: GracefulConnection + Send,
    {
        self.slot().watch(connection)
    }

    /// A place for a connection not yet served (its TLS handshake under way, say): it counts
    /// as open, so a drain waits for it, until dropped or given its connection with
    /// [`Slot::watch`].
    pub fn slot(&self) -> Slot {
        let key = lock(&self.shared.wakers).insert(None);
        Slot {
            shared: self.shared.clone(),
            key,
            waker: None,
            told: false,
            idle: None,
        }
    }

    /// Tells every watched connection to finish, and resolves once all have ended.
    pub async fn drain(&self) {
        self.shared.draining.store(true, Ordering::Release);
        let mut notified = pin!(self.shared.done.notified());
        loop {
            // Enabled before the table is read: an end in between is not missed.
            notified.as_mut().enable();
            {
                let wakers = lock(&self.shared.wakers);
                if wakers.is_empty() {
                    return;
                }
                for (_, waker) in wakers.iter() {
                    if let Some(waker) = waker {
                        waker.wake_by_ref();
                    }
                }
            }
            notified.as_mut().await;
            notified.set(self.shared.done.notified());
        }
    }
}

/// One connection's place among a port's [`Connections`], given up when dropped.
#[derive(Debug)]
pub struct Slot {
    shared: Arc<Shared>,
    key: usize,
    /// The waker last stored in the slot.
    waker: Option<Waker>,
    /// Whether the connection has been told to finish.
    told: bool,
    /// The connection's idle limit, if it has one.
    idle: Option<Idle>,
}

impl Slot {
    /// The slot of a connection that is also told to finish once `idle` expires.
    pub fn with_idle(mut self, idle: Idle) -> Self {
        self.idle = Some(idle);
        self
    }

    /// Runs `connection` to its end in this place, as [`Connections::watch`] does.
    pub async fn watch<C>(mut self, connection: C) -> C::Output
    where
        C: GracefulConnection + Send,
    {
        let mut connection = pin!(connection);
        std::future::poll_fn(|cx| {
            self.check(cx, connection.as_mut());
            connection.as_mut().poll(cx)
        })
        .await
    }

    /// Before each poll of the connection: tells it to finish if the port drains or it has
    /// been idle too long, else makes sure the drain (and the idle limit) can wake the task
    /// polling it.
    fn check<C: GracefulConnection>(&mut self, cx: &Context<'_>, connection: Pin<&mut C>) {
        if self.told {
            return;
        }
        if !self.finishing() {
            if self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                return;
            }
            let waker = cx.waker().clone();
            if let Some(slot) = lock(&self.shared.wakers).get_mut(self.key) {
                *slot = Some(waker.clone());
            }
            if let Some(idle) = &self.idle {
                idle.register(&waker);
            }
            self.waker = Some(waker);
            // A drain (or expiry) that began before the waker was stored woke only the older
            // ones; the lock (the atomic waker's swap) orders this load after its flag.
            if !self.finishing() {
                return;
            }
        }
        self.told = true;
        connection.graceful_shutdown();
    }

    /// Whether the connection is to finish: the port drains, or it has been idle too long.
    fn finishing(&self) -> bool {
        self.shared.draining.load(Ordering::Acquire)
            || self.idle.as_ref().is_some_and(Idle::expired)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut wakers = lock(&self.shared.wakers);
        wakers.try_remove(self.key);
        if wakers.is_empty() && self.shared.draining.load(Ordering::Acquire) {
            self.shared.done.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests;
