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

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use wasi::io::poll::Pollable;

type Task = Pin<Box<dyn Future<Output = ()>>>;

thread_local! {
    /// Pollables that pending futures wait on, with whom to wake and who owns them (0: nobody).
    static WAITING: RefCell<Vec<(Pollable, Waker, u64)>> = const { RefCell::new(Vec::new()) };
    static NEXT_OWNER: Cell<u64> = const { Cell::new(1) };
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
    wait_for_owned(pollable, waker, 0);
}

/// A fresh owner tag for [`wait_for_owned`].
pub fn new_owner() -> u64 {
    NEXT_OWNER.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// Like [`wait_for`], tagged with `owner` so that [`release`] can drop the pollable early.
pub fn wait_for_owned(pollable: Pollable, waker: &Waker, owner: u64) {
    WAITING.with(|w| w.borrow_mut().push((pollable, waker.clone(), owner)));
}

/// Drops the pollables `owner` registered. A pollable is a child of the stream or socket it
/// came from, and WASI traps if a parent is dropped before its children: a stream (or a
/// future waiting on a socket) must release its pollables before it goes away.
pub fn release(owner: u64) {
    WAITING.with(|w| w.borrow_mut().retain(|(_, _, o)| *o != owner));
}

/// Releases an owner's pollables when dropped (a future cancelled while it waits).
struct Release(u64);

impl Drop for Release {
    fn drop(&mut self) {
        release(self.0);
    }
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
        // A task that finished may have made the future ready (it set a result, dropped its
        // stream and with it the pollables it waited on), so poll again rather than sleep.
        let finished = poll_tasks(&mut cx);
        if flag.0.swap(false, Ordering::AcqRel) || finished {
            continue;
        }
        let waiting = WAITING.with(|w| std::mem::take(&mut *w.borrow_mut()));
        assert!(
            !waiting.is_empty(),
            "pier_sdk::rt::block_on: the future is pending but waits on no I/O"
        );
        let list: Vec<&Pollable> = waiting.iter().map(|(p, _, _)| p).collect();
        for index in wasi::io::poll::poll(&list) {
            if let Some((_, w, _)) = waiting.get(index as usize) {
                w.wake_by_ref();
            }
        }
        // Everything is polled again; whatever is still blocked registers afresh.
    }
}

/// Polls every background task once; true if any of them finished.
fn poll_tasks(cx: &mut Context<'_>) -> bool {
    let mut tasks = TASKS.with(|t| std::mem::take(&mut *t.borrow_mut()));
    let before = tasks.len();
    tasks.retain_mut(|t| t.as_mut().poll(cx).is_pending());
    let finished = tasks.len() < before;
    // Tasks spawned while polling were pushed to the (now empty) list; keep both.
    TASKS.with(|t| {
        let mut list = t.borrow_mut();
        tasks.append(&mut list);
        *list = tasks;
    });
    finished
}

/// A future that is ready when `subscribe()`'s pollable is.
pub(crate) async fn ready(subscribe: impl Fn() -> Pollable) {
    let owner = Release(new_owner());
    std::future::poll_fn(|cx| {
        let p = subscribe();
        if p.ready() {
            Poll::Ready(())
        } else {
            wait_for_owned(p, cx.waker(), owner.0);
            Poll::Pending
        }
    })
    .await
}

/// Waits for `duration` without blocking other tasks (a `wasi:clocks` timer pollable).
///
/// Done-ness is read from the clock, not from the pollable: a timer pollable made afresh for a
/// deadline that has just passed is not ready until the host's timer has fired it, so asking a
/// new one on every poll (as [`ready`] does for streams) could go on forever.
pub async fn sleep(duration: std::time::Duration) {
    use wasi::clocks::monotonic_clock;
    let deadline = monotonic_clock::now()
        .saturating_add(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    let owner = Release(new_owner());
    std::future::poll_fn(|cx| {
        if monotonic_clock::now() >= deadline {
            return Poll::Ready(());
        }
        wait_for_owned(
            monotonic_clock::subscribe_instant(deadline),
            cx.waker(),
            owner.0,
        );
        Poll::Pending
    })
    .await
}

/// Runs `future` for at most `duration`; `None` if the time ran out first (the future is
/// dropped). Use it for connects and handshakes that would otherwise wait for pier's limit.
pub async fn timeout<F: Future>(duration: std::time::Duration, future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut timer = pin!(sleep(duration));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}
