//! Wall-clock time as a seam. `std::time::SystemTime::now` panics on `wasm32-unknown-unknown`, so
//! domain code asks a [`Clock`]; the edge implements it with `Date.now()`, tests with
//! [`SystemClock`] or [`FixedClock`].

/// Milliseconds since the Unix epoch, as JavaScript's `Date.now()` reports them.
pub trait Clock {
    fn now_ms(&self) -> f64;

    /// Whole seconds since the Unix epoch (JWT `exp`/`nbf` are in seconds).
    fn now_secs(&self) -> i64 {
        (self.now_ms() / 1000.0).floor() as i64
    }
}

/// Waiting without blocking the isolate (polling for a decision, SSE keep-alives).
///
/// Loops that wait must be bounded by a number of waits, not by reading a [`Clock`]: the host
/// test timer returns at once and test clocks do not move.
#[async_trait::async_trait(?Send)]
pub trait Timer {
    async fn sleep(&self, ms: u64);
}

/// A timer that returns at once (unit tests and native tools that never wait).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoWaitTimer;

#[async_trait::async_trait(?Send)]
impl Timer for NoWaitTimer {
    async fn sleep(&self, _ms: u64) {}
}

/// The host's clock, for native code and tests. Never used in the Worker.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> f64 {
        #[allow(clippy::disallowed_methods)]
        let now = std::time::SystemTime::now();
        now.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }
}

/// A clock that always answers the same instant (unit tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub f64);

impl Clock for FixedClock {
    fn now_ms(&self) -> f64 {
        self.0
    }
}
