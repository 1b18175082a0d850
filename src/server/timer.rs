//! A coarse timer for hyper's HTTP/1.1 header read timeout.
//!
//! hyper arms that timeout each time a connection starts waiting for a request head (so on
//! every request of a keep-alive connection) and drops it once the head is in: almost every
//! one is cancelled within microseconds. A `tokio::time::Sleep` enters the runtime's timer
//! wheel on its first poll and leaves it when dropped, each under the time driver's lock:
//! about 670 instructions per REST call in embedded mode (callgrind). A [`CoarseTimer`] sleep
//! takes a slot in a plain table on its first poll and gives it back when dropped; one task
//! per timer wakes, every [`TICK`] while sleeps wait, those whose deadline has passed. A sleep
//! therefore ends up to one tick after its deadline, which a timeout of seconds does not
//! notice.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, Weak},
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use slab::Slab;

use crate::sync::lock;

/// How often waiting sleeps are looked at.
pub const TICK: Duration = Duration::from_millis(250);

/// Tables per timer: each thread makes its sleeps in one, so threads seldom share a lock.
const SHARDS: usize = 8;

/// A [`hyper::rt::Timer`] for timeouts of a second or more (cheap to clone: clones share
/// their tables). Its sleeps must be polled within a Tokio runtime.
#[derive(Debug, Clone, Default)]
pub struct CoarseTimer {
    tables: Arc<[Arc<Mutex<Table>>; SHARDS]>,
}

#[derive(Debug, Default)]
struct Table {
    /// Each waiting sleep's deadline, and its task's waker until woken.
    sleeps: Slab<(Instant, Option<Waker>)>,
    /// Whether a task is ticking for this table.
    ticking: bool,
}

impl CoarseTimer {
    /// A timer with nothing waiting.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sleeps wait (polled, not yet dropped).
    pub fn waiting(&self) -> usize {
        self.tables
            .iter()
            .map(|table| lock(table).sleeps.len())
            .sum()
    }

    /// The table of the calling thread's sleeps.
    fn table(&self) -> &Arc<Mutex<Table>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static THREADS: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SHARD: usize = THREADS.fetch_add(1, Ordering::Relaxed) % SHARDS;
        }
        &self.tables[SHARD.with(|shard| *shard)]
    }
}

impl hyper::rt::Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(CoarseSleep {
            deadline,
            slot: None,
            table: self.table().clone(),
        })
    }
}

/// A sleep of a [`CoarseTimer`].
#[derive(Debug)]
struct CoarseSleep {
    deadline: Instant,
    /// Its slot in the table, once it waits.
    slot: Option<usize>,
    table: Arc<Mutex<Table>>,
}

impl hyper::rt::Sleep for CoarseSleep {}

impl Future for CoarseSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let this = &mut *self;
        let waker = Some(cx.waker().clone());
        let start = {
            let mut table = lock(&this.table);
            match this.slot.and_then(|slot| table.sleeps.get_mut(slot)) {
                Some(entry) => entry.1 = waker,
                None => this.slot = Some(table.sleeps.insert((this.deadline, waker))),
            }
            !std::mem::replace(&mut table.ticking, true)
        };
        if start {
            tokio::spawn(tick(Arc::downgrade(&this.table)));
        }
        Poll::Pending
    }
}

impl Drop for CoarseSleep {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            lock(&self.table).sleeps.try_remove(slot);
        }
    }
}

/// Every [`TICK`]: wakes the sleeps of `table` whose deadline has passed; ends once none
/// waits (the next sleep to wait starts another) or the timer is gone.
async fn tick(table: Weak<Mutex<Table>>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(table) = table.upgrade() else {
            return;
        };
        let now = Instant::now();
        let mut table = lock(&table);
        if table.sleeps.is_empty() {
            table.ticking = false;
            return;
        }
        for (_, (deadline, waker)) in table.sleeps.iter_mut() {
            if *deadline <= now
                && let Some(waker) = waker.take()
            {
                waker.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests;
