//! The in-memory side of one MCP session object (executor-behaviour.md §6.4, §6.7): the
//! standalone GET event stream, server→client requests waiting for the client's response,
//! JSON-RPC request ids in flight (duplicates wait instead of running twice), activity and the
//! idle-teardown policy.
//!
//! Everything here may vanish at any moment (idle teardown, eviction, a new isolate): the meta
//! lives in object storage and paused executions in D1, so losing a [`LiveSession`] only closes
//! the event stream and turns outstanding questions into `cancel`.
//!
//! Durable Object requests interleave whenever one awaits something other than object storage,
//! so an `execute` waiting here for the client's answer lets the POST carrying that answer in.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;

use async_trait::async_trait;
use futures_channel::{mpsc, oneshot};
use futures_util::future::{select, Either};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{json, Value};

use crate::store::StoreError;
use crate::time::Timer;

/// After this long without a request the in-memory state is dropped (the meta stays).
pub const IDLE_TEARDOWN_MS: f64 = 5.0 * 60_000.0;
/// Activity is written to storage (and the alarm moved) at most this often.
pub const ACTIVITY_PERSIST_MS: f64 = 30_000.0;
/// Alarm step while a request is still running.
pub const BUSY_RECHECK_MS: f64 = 30_000.0;
/// Storage key of the last persisted activity (ms since the epoch).
pub const ACTIVITY_KEY: &str = "last-activity-ms";

/// The `ping` keep-alive frame of the event stream.
pub const PING_FRAME: &[u8] = b"event: ping\ndata: \n\n";

/// Waiting bounds (configurable so tests need not wait ten minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSettings {
    /// How long `execute` waits for the client to answer an `elicitation/create`.
    pub elicitation_timeout_ms: u64,
    /// How long a request waits for an earlier one with the same id (§6.4 step 5).
    pub duplicate_wait_ms: u64,
    /// Interval of `event: ping` frames on the GET stream.
    pub ping_interval_ms: u64,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings {
            elicitation_timeout_ms: 10 * 60_000,
            duplicate_wait_ms: 60_000,
            ping_interval_ms: 25_000,
        }
    }
}

/// Schedules the object's alarm (the Durable Object alarm in the Worker).
#[async_trait(?Send)]
pub trait Alarms {
    async fn set_alarm(&self, at_ms: f64) -> Result<(), StoreError>;
}

/// Alarms that only remember what was asked (host tests).
#[derive(Debug, Default)]
pub struct RecordedAlarms {
    pub set: RefCell<Vec<f64>>,
}

#[async_trait(?Send)]
impl Alarms for RecordedAlarms {
    async fn set_alarm(&self, at_ms: f64) -> Result<(), StoreError> {
        self.set.borrow_mut().push(at_ms);
        Ok(())
    }
}

/// What the alarm should do, from [`alarm_step`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AlarmStep {
    /// Still active: check again at this time.
    Rearm(f64),
    /// Idle: drop in-memory state, keep the meta, check again at this time (for expiry).
    Teardown { next: f64 },
    /// Abandoned: delete everything, no further alarm.
    Expire,
}

/// The idle policy (§6.7): a running request keeps the session warm; five idle minutes drop the
/// in-memory state; `expire_after_ms` idle (the pause TTL) deletes the session.
pub fn alarm_step(now: f64, last_activity: f64, busy: bool, expire_after_ms: f64) -> AlarmStep {
    if busy {
        return AlarmStep::Rearm(now + BUSY_RECHECK_MS);
    }
    let expire_after = expire_after_ms.max(IDLE_TEARDOWN_MS);
    let idle = now - last_activity;
    if idle >= expire_after {
        AlarmStep::Expire
    } else if idle >= IDLE_TEARDOWN_MS {
        AlarmStep::Teardown {
            next: last_activity + expire_after,
        }
    } else {
        AlarmStep::Rearm(last_activity + IDLE_TEARDOWN_MS)
    }
}

/// The receiving end of the session's GET stream: JSON-RPC messages in order.
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<String>,
}

impl EventStream {
    /// SSE frames: `event: message` per queued message, `event: ping` after every
    /// `ping_interval_ms` of quiet. Ends when the session replaces or drops the stream.
    pub fn frames<S, F>(self, ping_interval_ms: u64, sleep: S) -> impl Stream<Item = Vec<u8>>
    where
        S: Fn(u64) -> F,
        F: Future<Output = ()>,
    {
        stream::unfold((self.rx, sleep), move |(mut rx, sleep)| async move {
            let next = {
                let tick = Box::pin(sleep(ping_interval_ms));
                match select(rx.next(), tick).await {
                    Either::Left((item, _)) => Some(item),
                    Either::Right(_) => None,
                }
            };
            match next {
                Some(Some(message)) => Some((
                    format!("event: message\ndata: {message}\n\n").into_bytes(),
                    (rx, sleep),
                )),
                Some(None) => None,
                None => Some((PING_FRAME.to_vec(), (rx, sleep))),
            }
        })
    }
}

/// What the holder of a request id answered, handed to requests that waited for it.
type Settled = Option<(Value, Value)>;

/// The in-memory state of one session object.
#[derive(Default)]
pub struct LiveSession {
    pub settings: LiveSettings,
    stream: RefCell<Option<mpsc::UnboundedSender<String>>>,
    /// Server→client requests waiting for a response, by JSON-encoded id, with the request
    /// (sent again on a new stream).
    waiting: RefCell<HashMap<String, (String, oneshot::Sender<Value>)>>,
    /// Keys in flight, with the requests waiting for each.
    in_flight: RefCell<HashMap<String, Vec<oneshot::Sender<Settled>>>>,
    last_activity_ms: Cell<f64>,
    persisted_activity_ms: Cell<f64>,
    busy: Cell<u32>,
}

/// How a request got its turn.
pub enum Turn<'a> {
    /// Run it; the guard releases the key (and tells waiters the reply) when finished.
    Run(FlightGuard<'a>),
    /// An identical request with this id just finished: its reply.
    Same(Value),
    /// The earlier request did not finish in time.
    TimedOut,
}

/// Holds a request key while its request runs.
pub struct FlightGuard<'a> {
    live: &'a LiveSession,
    key: String,
    message: Value,
    reply: Option<Value>,
}

impl FlightGuard<'_> {
    /// Records the reply so identical duplicates waiting for this request get it too.
    pub fn finish(mut self, reply: &Value) {
        self.reply = Some(reply.clone());
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let waiters = self
            .live
            .in_flight
            .borrow_mut()
            .remove(&self.key)
            .unwrap_or_default();
        let settled = self.reply.take().map(|r| (self.message.clone(), r));
        for waiter in waiters {
            let _ = waiter.send(settled.clone());
        }
    }
}

/// Counts a running request (keeps the idle alarm from tearing the session down under it).
pub struct BusyGuard<'a>(&'a LiveSession);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.busy.set(self.0.busy.get().saturating_sub(1));
    }
}

/// Waits for `fut` at most `ms` (by the timer), `None` on timeout.
pub async fn bounded<T>(timer: &dyn Timer, ms: u64, fut: impl Future<Output = T>) -> Option<T> {
    let fut = std::pin::pin!(fut);
    match select(fut, timer.sleep(ms)).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

impl LiveSession {
    pub fn new(settings: LiveSettings) -> LiveSession {
        LiveSession {
            settings,
            ..LiveSession::default()
        }
    }

    /// Opens the session's standalone stream, closing the previous one (a second GET replaces
    /// the first, §6.4). Questions still unanswered are sent again on it: a client that lost
    /// its stream (the platform does not always tell us) gets them when it reconnects.
    pub fn open_stream(&self) -> EventStream {
        let (tx, rx) = mpsc::unbounded();
        for (message, _) in self.waiting.borrow().values() {
            let _ = tx.unbounded_send(message.clone());
        }
        if let Some(old) = self.stream.replace(Some(tx)) {
            old.close_channel();
        }
        EventStream { rx }
    }

    /// Is a client listening on the GET stream?
    pub fn stream_open(&self) -> bool {
        self.stream
            .borrow()
            .as_ref()
            .is_some_and(|tx| !tx.is_closed())
    }

    /// Queues a message on the stream; false when no client listens.
    pub fn send(&self, message: &Value) -> bool {
        let sent = self
            .stream
            .borrow()
            .as_ref()
            .is_some_and(|tx| tx.unbounded_send(message.to_string()).is_ok());
        if !sent {
            self.stream.replace(None);
        }
        sent
    }

    /// Sends a server→client request over the stream and waits (bounded) for the client's
    /// response (the whole JSON-RPC response object). `Err(false)`: nobody listens;
    /// `Err(true)`: sent, but no answer in time (or the session was torn down).
    pub async fn request(
        &self,
        timer: &dyn Timer,
        method: &str,
        params: Value,
    ) -> Result<Value, bool> {
        // Random ids: a late answer to a request of a torn-down session must not match a new one.
        let id = format!(
            "executor-{}",
            crate::ids::hex(&crate::ids::random_bytes::<8>())
        );
        let key = Value::String(id.clone()).to_string();
        let (tx, rx) = oneshot::channel();
        let message = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.waiting
            .borrow_mut()
            .insert(key.clone(), (message.to_string(), tx));
        if !self.send(&message) {
            self.waiting.borrow_mut().remove(&key);
            return Err(false);
        }
        let answer = bounded(timer, self.settings.elicitation_timeout_ms, rx).await;
        self.waiting.borrow_mut().remove(&key);
        match answer {
            Some(Ok(response)) => Ok(response),
            _ => Err(true),
        }
    }

    /// Hands a client's JSON-RPC response to the request waiting for it; false when nobody
    /// waits for that id (late, duplicate or unknown answers are dropped).
    pub fn deliver(&self, response: &Value) -> bool {
        let Some(id) = response.get("id") else {
            return false;
        };
        match self.waiting.borrow_mut().remove(&id.to_string()) {
            Some((_, tx)) => tx.send(response.clone()).is_ok(),
            None => false,
        }
    }

    /// Waits for `key` to be free (bounded by [`LiveSettings::duplicate_wait_ms`]) and takes it.
    /// A request identical to the one holding the key gets that one's reply instead of running
    /// again.
    pub async fn turn(&self, timer: &dyn Timer, key: String, message: &Value) -> Turn<'_> {
        // Each round waits for one holder; a key taken over and over gives up after a few.
        for _ in 0..8 {
            let rx = {
                let mut in_flight = self.in_flight.borrow_mut();
                match in_flight.get_mut(&key) {
                    None => {
                        in_flight.insert(key.clone(), Vec::new());
                        return Turn::Run(FlightGuard {
                            live: self,
                            key,
                            message: message.clone(),
                            reply: None,
                        });
                    }
                    Some(waiters) => {
                        let (tx, rx) = oneshot::channel();
                        waiters.push(tx);
                        rx
                    }
                }
            };
            match bounded(timer, self.settings.duplicate_wait_ms, rx).await {
                Some(Ok(Some((held, reply)))) if held == *message => return Turn::Same(reply),
                Some(_) => continue,
                None => return Turn::TimedOut,
            }
        }
        Turn::TimedOut
    }

    /// Marks a request as running until the guard drops.
    pub fn busy(&self) -> BusyGuard<'_> {
        self.busy.set(self.busy.get() + 1);
        BusyGuard(self)
    }

    pub fn is_busy(&self) -> bool {
        self.busy.get() > 0
    }

    /// Records activity; true when it should be persisted (and the alarm moved) now.
    pub fn touch(&self, now: f64) -> bool {
        self.last_activity_ms.set(now);
        if now - self.persisted_activity_ms.get() >= ACTIVITY_PERSIST_MS {
            self.persisted_activity_ms.set(now);
            return true;
        }
        false
    }

    /// Last activity seen by this instance (0 when none).
    pub fn last_activity(&self) -> f64 {
        self.last_activity_ms.get()
    }

    /// Drops everything in memory: the stream closes, outstanding questions resolve as
    /// unanswered, and the next activity is persisted again.
    pub fn teardown(&self) {
        if let Some(tx) = self.stream.replace(None) {
            tx.close_channel();
        }
        self.waiting.borrow_mut().clear();
        self.persisted_activity_ms.set(0.0);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::time::NoWaitTimer;
    use futures_util::future::join;

    /// A timer whose sleeps yield a few times before returning, so other futures run first.
    pub(crate) struct YieldTimer(pub u32);

    #[async_trait(?Send)]
    impl Timer for YieldTimer {
        async fn sleep(&self, _ms: u64) {
            for _ in 0..self.0 {
                yield_now().await;
            }
        }
    }

    pub(crate) async fn yield_now() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await
    }

    #[test]
    fn idle_policy() {
        let ttl = 24.0 * 3_600_000.0;
        assert_eq!(
            alarm_step(1000.0, 0.0, false, ttl),
            AlarmStep::Rearm(IDLE_TEARDOWN_MS)
        );
        assert_eq!(
            alarm_step(IDLE_TEARDOWN_MS, 0.0, true, ttl),
            AlarmStep::Rearm(IDLE_TEARDOWN_MS + BUSY_RECHECK_MS)
        );
        assert_eq!(
            alarm_step(IDLE_TEARDOWN_MS, 0.0, false, ttl),
            AlarmStep::Teardown { next: ttl }
        );
        assert_eq!(alarm_step(ttl, 0.0, false, ttl), AlarmStep::Expire);
        // A TTL shorter than the teardown never expires a session before its teardown.
        assert_eq!(
            alarm_step(IDLE_TEARDOWN_MS, 0.0, false, 60_000.0),
            AlarmStep::Expire
        );
    }

    #[test]
    fn touch_persists_at_most_every_half_minute() {
        let live = LiveSession::default();
        assert!(live.touch(100_000.0));
        assert!(!live.touch(110_000.0));
        assert!(live.touch(131_000.0));
        live.teardown();
        assert!(live.touch(132_000.0));
    }

    #[tokio::test]
    async fn a_second_stream_replaces_the_first() {
        let live = LiveSession::default();
        assert!(!live.stream_open());
        assert!(!live.send(&json!({"a": 1})));
        let first = live.open_stream();
        assert!(live.stream_open());
        let second = live.open_stream();
        assert!(live.send(&json!({"n": 2})));
        let first: Vec<_> = first.frames(10, |_| std::future::pending()).collect().await;
        assert!(first.is_empty());
        live.teardown();
        let frames: Vec<_> = second
            .frames(10, |_| std::future::pending())
            .collect()
            .await;
        assert_eq!(
            frames,
            vec![b"event: message\ndata: {\"n\":2}\n\n".to_vec()]
        );
    }

    #[tokio::test]
    async fn quiet_streams_ping_and_a_dropped_stream_counts_as_closed() {
        let live = LiveSession::default();
        let stream = live.open_stream();
        let frames: Vec<_> = stream
            .frames(10, |_| std::future::ready(()))
            .take(2)
            .collect()
            .await;
        assert_eq!(frames, vec![PING_FRAME.to_vec(), PING_FRAME.to_vec()]);
        // The stream above is gone (the client went away): nobody listens any more.
        assert!(!live.stream_open());
        assert_eq!(
            live.request(&NoWaitTimer, "elicitation/create", json!({}))
                .await,
            Err(false)
        );
    }

    #[tokio::test]
    async fn client_responses_reach_their_request() {
        let live = LiveSession::default();
        let mut stream = Box::pin(live.open_stream().frames(10, |_| std::future::pending()));
        let timer = YieldTimer(50);
        let ask = live.request(&timer, "elicitation/create", json!({"message": "ok?"}));
        let answer = async {
            let frame = String::from_utf8(stream.next().await.unwrap()).unwrap();
            let sent: Value =
                serde_json::from_str(frame.strip_prefix("event: message\ndata: ").unwrap().trim())
                    .unwrap();
            assert_eq!(sent["method"], "elicitation/create");
            assert!(!live.deliver(&json!({"jsonrpc": "2.0", "id": "other", "result": {}})));
            let response =
                json!({"jsonrpc": "2.0", "id": sent["id"], "result": {"action": "accept"}});
            assert!(live.deliver(&response));
            response
        };
        let (got, sent) = join(ask, answer).await;
        assert_eq!(got.unwrap(), sent);

        // A question asked on a stream the client lost comes again on its next stream.
        let lost = live.open_stream();
        let ask = live.request(&timer, "elicitation/create", json!({"message": "again?"}));
        let answer = async {
            drop(lost);
            let mut fresh = Box::pin(live.open_stream().frames(10, |_| std::future::pending()));
            let frame = String::from_utf8(fresh.next().await.unwrap()).unwrap();
            let sent: Value =
                serde_json::from_str(frame.strip_prefix("event: message\ndata: ").unwrap().trim())
                    .unwrap();
            assert_eq!(sent["params"]["message"], "again?");
            assert!(live.deliver(&json!({"jsonrpc": "2.0", "id": sent["id"], "result": {}})));
        };
        let (got, ()) = join(ask, answer).await;
        assert!(got.is_ok());
        let _stream = live.open_stream();
        assert!(live.stream_open());

        // Unanswered: a timeout, and the late answer is dropped.
        let ask = live
            .request(&NoWaitTimer, "elicitation/create", json!({}))
            .await;
        assert_eq!(ask, Err(true));
        assert!(live.waiting.borrow().is_empty());
    }

    #[tokio::test]
    async fn duplicate_ids_wait_and_identical_ones_share_the_reply() {
        let live = LiveSession::default();
        let timer = YieldTimer(20);
        let message = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call"});
        let Turn::Run(guard) = live.turn(&timer, "id:7".into(), &message).await else {
            panic!("first request runs")
        };
        let waiter = live.turn(&timer, "id:7".into(), &message);
        let holder = async {
            yield_now().await;
            guard.finish(&json!({"result": 1}));
        };
        let (turn, ()) = join(waiter, holder).await;
        assert!(matches!(turn, Turn::Same(v) if v == json!({"result": 1})));

        // A different message with the same id runs after the first.
        let Turn::Run(guard) = live.turn(&timer, "id:7".into(), &message).await else {
            panic!()
        };
        let other = json!({"jsonrpc": "2.0", "id": 7, "method": "ping"});
        let waiter = live.turn(&timer, "id:7".into(), &other);
        let holder = async {
            yield_now().await;
            drop(guard);
        };
        let (turn, ()) = join(waiter, holder).await;
        assert!(matches!(turn, Turn::Run(_)));

        // Nobody finishes: the wait is bounded.
        let Turn::Run(_guard) = live.turn(&timer, "id:8".into(), &message).await else {
            panic!()
        };
        assert!(matches!(
            live.turn(&NoWaitTimer, "id:8".into(), &message).await,
            Turn::TimedOut
        ));
    }
}
