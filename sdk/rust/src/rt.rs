//! A small executor on `wasi:io/poll` for plugins that use async drivers (database clients,
//! protocol libraries built on tokio's I/O traits).
//!
//! [`block_on`] runs a future to completion inside one tool call. Unlike a reactor created per
//! call, tasks started with [`spawn`] outlive it: a database driver's connection task keeps its
//! socket and is polled again by the next call's `block_on`, so a connection opened in one call
//! serves the next. Between calls nothing runs (a plugin only executes while pier calls it).
//!
//! I/O types register the `wasi:io` pollable they are waiting on with [`wait_for`]; when every
//! task is stuck, `block_on` sleeps in one `wasi:io/poll.poll` over all of them.

use std::cell::RefCell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use wasi::io::poll::Pollable;

type Task = Pin<Box<dyn Future<Output = ()>>>;

thread_local! {
    /// Pollables that pending futures wait on, with whom to wake.
    static WAITING: RefCell<Vec<(Pollable, Waker)>> = const { RefCell::new(Vec::new()) };
    /// Background tasks, kept across `block_on` calls.
    static TASKS: RefCell<Vec<Task>> = const { RefCell::new(Vec::new()) };
}

/// Wakes by raising a flag: `block_on` re-polls everything when it is up.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// Registers `pollable` so that `waker` is woken when it is ready. Called by I/O types from
/// `poll_*` before returning `Poll::Pending`.
pub fn wait_for(pollable: Pollable, waker: &Waker) {
    WAITING.with(|w| w.borrow_mut().push((pollable, waker.clone())));
}

/// Starts a background task that lives across tool calls (for example a database
/// connection's driver task). It makes progress whenever any `block_on` runs.
pub fn spawn(task: impl Future<Output = ()> + 'static) {
    TASKS.with(|t| t.borrow_mut().push(Box::pin(task)));
}

/// Runs `future` to completion, driving background tasks meanwhile.
///
/// Panics if the future is pending while nothing at all is being waited on, which would
/// otherwise hang the call until pier's time limit.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        poll_tasks(&mut cx);
        if flag.0.swap(false, Ordering::AcqRel) {
            continue;
        }
        let waiting = WAITING.with(|w| std::mem::take(&mut *w.borrow_mut()));
        assert!(
            !waiting.is_empty(),
            "pier_sdk::rt::block_on: the future is pending but waits on no I/O"
        );
        let list: Vec<&Pollable> = waiting.iter().map(|(p, _)| p).collect();
        for index in wasi::io::poll::poll(&list) {
            if let Some((_, w)) = waiting.get(index as usize) {
                w.wake_by_ref();
            }
        }
        // Everything is polled again; whatever is still blocked registers afresh.
    }
}

fn poll_tasks(cx: &mut Context<'_>) {
    let mut tasks = TASKS.with(|t| std::mem::take(&mut *t.borrow_mut()));
    tasks.retain_mut(|t| t.as_mut().poll(cx).is_pending());
    // Tasks spawned while polling were pushed to the (now empty) list; keep both.
    TASKS.with(|t| {
        let mut list = t.borrow_mut();
        tasks.append(&mut list);
        *list = tasks;
    });
}

/// A future that is ready when `subscribe()`'s pollable is.
pub(crate) async fn ready(subscribe: impl Fn() -> Pollable) {
    std::future::poll_fn(|cx| {
        let p = subscribe();
        if p.ready() {
            Poll::Ready(())
        } else {
            wait_for(p, cx.waker());
            Poll::Pending
        }
    })
    .await
}
