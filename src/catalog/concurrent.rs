//! Two small single-threaded future helpers (the crate has no futures library on the host):
//! [`join`] runs two futures concurrently — in the Worker that overlaps two D1 round trips —
//! and [`AsyncOnce`] loads a per-run value once even when a script asks for it from several
//! concurrent tool calls (`Promise.all([tools.search(…), tools.search(…)])`).

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Poll, Waker};

/// Polls both futures until both are done.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let mut out_a = None;
    let mut out_b = None;
    poll_fn(|cx| {
        if out_a.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                out_a = Some(v);
            }
        }
        if out_b.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                out_b = Some(v);
            }
        }
        match (out_a.take(), out_b.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                out_a = a;
                out_b = b;
                Poll::Pending
            }
        }
    })
    .await
}

enum State<T> {
    Empty,
    /// One caller is loading; the others wait here.
    Loading(Vec<Waker>),
    Ready(T),
}

/// A value loaded on first use by an async initialiser and handed out by clone (use an `Rc`
/// for anything large). Concurrent first uses share one load; a failed (or abandoned) load
/// leaves the cell empty so a later use tries again.
pub struct AsyncOnce<T> {
    state: RefCell<State<T>>,
}

impl<T> Default for AsyncOnce<T> {
    fn default() -> Self {
        AsyncOnce {
            state: RefCell::new(State::Empty),
        }
    }
}

/// Resets a load that did not complete (failed, or its future was dropped) and wakes waiters,
/// one of which then loads instead.
struct LoadGuard<'a, T>(&'a AsyncOnce<T>);

impl<T> Drop for LoadGuard<'_, T> {
    fn drop(&mut self) {
        let mut state = self.0.state.borrow_mut();
        if let State::Loading(wakers) = &mut *state {
            let wakers = std::mem::take(wakers);
            *state = State::Empty;
            drop(state);
            wakers.into_iter().for_each(Waker::wake);
        }
    }
}

impl<T: Clone> AsyncOnce<T> {
    /// The value, loading it with `init` if no one has yet.
    pub async fn get_or_try_init<E, Fut>(&self, init: impl FnOnce() -> Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let ready = poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            match &mut *state {
                State::Ready(value) => Poll::Ready(Some(value.clone())),
                State::Loading(wakers) => {
                    wakers.push(cx.waker().clone());
                    Poll::Pending
                }
                State::Empty => {
                    *state = State::Loading(Vec::new());
                    Poll::Ready(None)
                }
            }
        })
        .await;
        if let Some(value) = ready {
            return Ok(value);
        }
        let guard = LoadGuard(self);
        let value = init().await?;
        let previous = self.state.replace(State::Ready(value.clone()));
        drop(guard);
        if let State::Loading(wakers) = previous {
            wakers.into_iter().for_each(Waker::wake);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::cell::Cell;

    /// A future that is pending once, then ready.
    fn yield_once() -> impl Future<Output = ()> {
        let mut yielded = false;
        poll_fn(move |cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    }

    #[tokio::test]
    async fn concurrent_first_uses_share_one_load() {
        let once: AsyncOnce<u32> = AsyncOnce::default();
        let loads = Cell::new(0);
        let load = || async {
            loads.set(loads.get() + 1);
            yield_once().await;
            Ok::<_, ()>(7)
        };
        let (a, b) = join(once.get_or_try_init(load), once.get_or_try_init(load)).await;
        assert_eq!((a.unwrap(), b.unwrap(), loads.get()), (7, 7, 1));
        let again = once.get_or_try_init(load).await.unwrap();
        assert_eq!((again, loads.get()), (7, 1));
    }

    #[tokio::test]
    async fn a_failed_load_lets_the_next_use_retry() {
        let once: AsyncOnce<u32> = AsyncOnce::default();
        let attempts = Cell::new(0);
        let load = || async {
            attempts.set(attempts.get() + 1);
            yield_once().await;
            if attempts.get() == 1 {
                Err("first fails")
            } else {
                Ok(3)
            }
        };
        let (a, b) = join(once.get_or_try_init(load), once.get_or_try_init(load)).await;
        assert_eq!(a.unwrap_err(), "first fails");
        assert_eq!(b.unwrap(), 3);
        assert_eq!(attempts.get(), 2);
    }
}
