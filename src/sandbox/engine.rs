//! The QuickJS driver: a fresh `Context` per run (on a `Runtime` reused between runs that ended
//! cleanly, see [`keep_for_reuse`]), a hand-written event loop that runs
//! QuickJS's job queue and polls the host's tool-call futures, and the native bridge functions
//! the prelude wraps.
//!
//! The loop also keeps the run's journal ([`Tape`]): while recorded batches remain it delivers
//! them instead of asking the host (checking each call was made again alike), then it goes live
//! and records what the host answers.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use rquickjs::context::EvalOptions;
use rquickjs::{
    Coerced, Context, Ctx, FromJs, Function, Object, Persistent, Promise, Runtime, Value,
};
use serde_json::Value as Json;

use super::journal::{describe_call, Batch, Journal, Recorded, ReplayError, Settled};
use super::preprocess::{self, Candidate};
use super::{HostReply, Limits, PausedCall, RunResult, ToolHost, MAX_JOURNAL_BYTES};
use crate::time::Clock;

/// The prelude: a function expression taking the three bridge functions.
const PRELUDE: &str = include_str!("prelude.js");
/// File names shown in sandbox stack traces (never host paths).
const SCRIPT_FILE: &str = "sandbox.js";
const PRELUDE_FILE: &str = "sandbox-prelude.js";

/// Console output kept per run; later lines are dropped (with one note).
const MAX_LOG_BYTES: usize = 1024 * 1024;
/// `emit()` output kept per run; past this, `emit()` throws.
const MAX_EMIT_BYTES: usize = 8 * 1024 * 1024;
const MAX_EMIT_ITEMS: usize = 10_000;

/// Upper bound on QuickJS interrupt polls per millisecond, for the frozen-clock backstop.
const MAX_POLLS_PER_MS: u64 = 100;

/// Largest QuickJS stack cap used on wasm32. QuickJS can only measure the C shadow stack in
/// linear memory, while V8 separately bounds the engine's native stack (about 1 MB, in Node and
/// workerd alike). Some C recursions (the parser, JSON) use up to ~19× more native stack than
/// shadow stack, and running out of native stack traps the whole wasm instance instead of
/// throwing a catchable RangeError. Measured in workerd: parser nesting traps from a 56–64 KiB
/// cap, JSON.stringify from 96 KiB; 32 KiB never trapped and allows about 110 nested JS calls.
#[cfg(target_arch = "wasm32")]
const WASM_MAX_STACK: usize = 32 * 1024;
/// Stack kept free for host frames below the QuickJS stack cap on wasm32.
#[cfg(target_arch = "wasm32")]
const HOST_STACK_RESERVE: usize = 128 * 1024;

/// Text used when QuickJS could not even describe an exception (typically memory exhaustion).
const OUT_OF_MEMORY: &str = "out of memory";
/// Text for a thrown `null`.
const NULL_THROWN: &str = "out of memory (or the script threw null)";

// The clock of the run whose JS is executing, for the interrupt handler. QuickJS wants a
// `'static` handler while `run` only borrows its clock, so the driver lends the clock for
// each synchronous stretch of JS (entering the context, running jobs).
scoped_tls_hkt::scoped_thread_local!(static ACTIVE_CLOCK: for<'a> &'a dyn Clock);

/// State shared between the bridge functions (owned by the JS heap) and the driver.
#[derive(Default)]
struct Bridge {
    next_id: Cell<u32>,
    calls: RefCell<Vec<ToolCall>>,
    logs: RefCell<Vec<String>>,
    log_bytes: Cell<usize>,
    logs_dropped: Cell<bool>,
    emitted: RefCell<Vec<Json>>,
    emitted_bytes: Cell<usize>,
}

struct ToolCall {
    id: u32,
    path: String,
    /// Parsed arguments, or why they could not be parsed.
    args: Result<Option<Json>, String>,
}

impl Bridge {
    fn call(&self, path: String, args: Option<String>) -> u32 {
        let id = self.next_id.get().wrapping_add(1);
        self.next_id.set(id);
        let args = match args {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("arguments of tools.{path} are not valid JSON: {e}")),
        };
        self.calls.borrow_mut().push(ToolCall { id, path, args });
        id
    }

    fn log(&self, level: &str, line: &str) {
        if self.logs_dropped.get() {
            return;
        }
        let entry = format!("[{level}] {line}");
        let total = self.log_bytes.get() + entry.len();
        if total > MAX_LOG_BYTES {
            self.logs_dropped.set(true);
            self.logs
                .borrow_mut()
                .push("[warn] further console output dropped (log limit reached)".to_owned());
            return;
        }
        self.log_bytes.set(total);
        self.logs.borrow_mut().push(entry);
    }

    /// Records an emitted value; `false` once the output limit is reached.
    fn emit(&self, json: &str) -> bool {
        let total = self.emitted_bytes.get() + json.len();
        if total > MAX_EMIT_BYTES || self.emitted.borrow().len() >= MAX_EMIT_ITEMS {
            return false;
        }
        // The prelude only passes JSON.stringify output; keep the text if it somehow is not JSON.
        let value = serde_json::from_str(json).unwrap_or_else(|_| Json::String(json.to_owned()));
        self.emitted_bytes.set(total);
        self.emitted.borrow_mut().push(value);
        true
    }
}

/// Why a run stopped without a result.
enum Stop {
    /// The deadline passed.
    Timeout,
    /// Any other failure, already described.
    Failed(String),
    /// The replay did not match its journal.
    Diverged(ReplayError),
}

/// How a run that did not fail ended.
enum Finish {
    /// The script's promise settled with this result.
    Done(Option<Json>),
    /// Nothing could happen any more but a call that asked to pause.
    Paused(PausedCall),
}

type Outcome = Result<Finish, Stop>;

/// The run's journal: recorded batches still to deliver, and what has been delivered so far.
struct Tape {
    seed: [u32; 4],
    start: f64,
    /// Recorded batches not yet delivered (a replay's input).
    to_replay: VecDeque<Batch>,
    /// Path and arguments of every call in `to_replay`, by number.
    expected: HashMap<u32, (String, Option<Json>)>,
    /// Delivered batches, replayed and live, while they fit in [`MAX_JOURNAL_BYTES`].
    delivered: Vec<Batch>,
    bytes: usize,
    overflowed: bool,
}

impl Tape {
    fn new(journal: Journal) -> Tape {
        let expected = journal
            .batches
            .iter()
            .flat_map(|b| &b.calls)
            .map(|c| (c.seq, (c.path.clone(), c.args.clone())))
            .collect();
        Tape {
            seed: journal.seed,
            start: journal.start,
            expected,
            to_replay: journal.batches.into(),
            delivered: Vec::new(),
            bytes: 0,
            overflowed: false,
        }
    }

    /// Path and arguments of the recorded call numbered `seq`, if it is still to be delivered.
    fn expected(&self, seq: u32) -> Option<&(String, Option<Json>)> {
        self.expected.get(&seq)
    }

    fn record(&mut self, batch: Batch) {
        if self.overflowed {
            return;
        }
        self.bytes += batch
            .calls
            .iter()
            .map(Settled::recorded_bytes)
            .sum::<usize>();
        if self.bytes > MAX_JOURNAL_BYTES {
            self.overflowed = true;
            self.delivered = Vec::new();
        } else {
            self.delivered.push(batch);
        }
    }

    fn into_journal(self) -> Option<Journal> {
        (!self.overflowed).then_some(Journal {
            seed: self.seed,
            start: self.start,
            batches: self.delivered,
        })
    }
}

pub(super) async fn execute(
    code: &str,
    limits: &Limits,
    host: &dyn ToolHost,
    clock: &dyn Clock,
    journal: Journal,
) -> Result<RunResult, ReplayError> {
    let bridge = Rc::new(Bridge::default());
    let deadline = clock.now_ms() + limits.timeout_ms as f64;
    let mut tape = Tape::new(journal);
    let outcome =
        run_in_fresh_context(code, limits, host, clock, deadline, &bridge, &mut tape).await;

    let (result, error, paused) = match outcome {
        Ok(Finish::Done(value)) => (value, None, None),
        Ok(Finish::Paused(call)) => (None, None, Some(call)),
        Err(Stop::Timeout) => (
            None,
            Some(format!(
                "Execution timed out after {} ms",
                limits.timeout_ms
            )),
            None,
        ),
        Err(Stop::Failed(message)) => (None, Some(message), None),
        Err(Stop::Diverged(e)) => return Err(e),
    };
    Ok(RunResult {
        result,
        error,
        logs: bridge.logs.take(),
        emitted: bridge.emitted.take(),
        paused,
        journal: tape.into_journal(),
    })
}

async fn run_in_fresh_context(
    code: &str,
    limits: &Limits,
    host: &dyn ToolHost,
    clock: &dyn Clock,
    deadline: f64,
    bridge: &Rc<Bridge>,
    tape: &mut Tape,
) -> Outcome {
    let spare = SPARE_RUNTIME.with(|slot| slot.borrow_mut().take());
    let (runtime, baseline) = match spare {
        Some(spare) => spare,
        None => {
            let runtime = Runtime::new()
                .map_err(|e| Stop::Failed(format!("could not start the JavaScript engine: {e}")))?;
            let baseline = runtime.memory_usage().malloc_size;
            (runtime, baseline)
        }
    };
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(stack_cap(limits.max_stack_bytes));

    // Set when the interrupt handler stops the script; from then on it keeps stopping it.
    let timed_out = Rc::new(Cell::new(false));
    {
        let timed_out = timed_out.clone();
        // Backstop for a clock that stands still while JS runs (Workers only advance Date.now()
        // between I/O events): QuickJS polls about once per 10,000 bytecode operations, which
        // an empty loop on the host reaches ~45 times per ms and real code far less often, so
        // this budget ends an endless loop without ever cutting a run before its deadline.
        let poll_budget = limits.timeout_ms.saturating_mul(MAX_POLLS_PER_MS);
        let mut polls: u64 = 0;
        runtime.set_interrupt_handler(Some(Box::new(move || {
            polls = polls.saturating_add(1);
            let now = if ACTIVE_CLOCK.is_set() {
                ACTIVE_CLOCK.with(|clock| clock.now_ms())
            } else {
                f64::NEG_INFINITY
            };
            if !timed_out.get() && (now >= deadline || polls > poll_budget) {
                timed_out.set(true);
            }
            timed_out.get()
        })));
    }

    let context = Context::full(&runtime)
        .map_err(|e| Stop::Failed(format!("could not create the JavaScript context: {e}")))?;

    let driver = Driver {
        runtime: &runtime,
        context: &context,
        host,
        clock,
        deadline,
        timed_out: &timed_out,
        bridge,
        max_tool_calls: limits.max_tool_calls,
    };
    let outcome = driver.run(code, tape).await;
    // Every `Persistent` handle lives inside `driver.run`, so none outlives the runtime.
    drop(context);
    runtime.set_interrupt_handler(None);
    if outcome.is_ok() && !timed_out.get() {
        keep_for_reuse(runtime, baseline);
    }
    outcome
}

// One QuickJS runtime kept between runs on this thread: creating and freeing a runtime is a
// noticeable share of a trivial run. Each run still gets a fresh `Context` (its own global
// object and built-ins), and a run takes the runtime out of the slot, so concurrent runs (a
// Worker interleaves requests while one waits on a tool call) never share one.
thread_local! {
    static SPARE_RUNTIME: RefCell<Option<(Runtime, i64)>> = const { RefCell::new(None) };
}

/// Heap growth over a fresh runtime's that still lets a runtime be reused.
const REUSE_SLACK_BYTES: i64 = 256 * 1024;

/// Keeps `runtime` for the next run if the finished run left nothing behind: its context must
/// be collectable, no job may be queued and the heap must be back near `baseline` (the size of
/// the runtime when it was new). Only runs that completed normally get here; after a timeout,
/// memory exhaustion or any other failure the runtime is simply dropped.
fn keep_for_reuse(runtime: Runtime, baseline: i64) {
    runtime.run_gc();
    if runtime.is_job_pending() {
        return;
    }
    if runtime.memory_usage().malloc_size > baseline.saturating_add(REUSE_SLACK_BYTES) {
        return;
    }
    SPARE_RUNTIME.with(|slot| *slot.borrow_mut() = Some((runtime, baseline)));
}

/// The QuickJS stack cap to apply. On wasm32 the shadow stack starts at address 0 and grows
/// down, so the address of a local is the stack space left; QuickJS computes its limit as
/// "stack top − cap", which must not fall below zero.
fn stack_cap(requested: usize) -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        let marker = 0u8;
        let left = std::ptr::addr_of!(marker) as usize;
        requested
            .min(WASM_MAX_STACK)
            .min(left.saturating_sub(HOST_STACK_RESERVE))
            .max(16 * 1024)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        requested
    }
}

/// Handles to the compiled script that must survive across awaits.
struct Started {
    settle: Persistent<Function<'static>>,
    advance: Persistent<Function<'static>>,
    finished: Persistent<Promise<'static>>,
}

/// A call handed to the host and not answered yet.
struct InFlight<'a> {
    seq: u32,
    path: String,
    args: Option<Json>,
    reply: HostFuture<'a>,
}

type HostFuture<'a> = Pin<Box<dyn Future<Output = HostReply> + 'a>>;

struct Driver<'a> {
    runtime: &'a Runtime,
    context: &'a Context,
    host: &'a dyn ToolHost,
    clock: &'a dyn Clock,
    deadline: f64,
    timed_out: &'a Cell<bool>,
    bridge: &'a Rc<Bridge>,
    max_tool_calls: u32,
}

impl<'a> Driver<'a> {
    /// Enters the context with the run's clock visible to the interrupt handler.
    fn js<R>(&self, f: impl for<'js> FnOnce(Ctx<'js>) -> R) -> R {
        ACTIVE_CLOCK.set(self.clock, || self.context.with(f))
    }

    async fn run(&self, code: &str, tape: &mut Tape) -> Outcome {
        let started = self.js(|ctx| self.start(&ctx, code, tape))?;
        // Calls the script made that are neither settled nor handed to the host yet. While
        // recorded batches remain, calls wait here for their recorded outcome.
        let mut issued: BTreeMap<u32, (String, Option<Json>)> = BTreeMap::new();
        let mut in_flight: Vec<InFlight<'a>> = Vec::new();
        // Calls the host asked to pause, in call order.
        let mut parked: Vec<PausedCall> = Vec::new();

        loop {
            self.run_jobs()?;
            if let Some(outcome) = self.finished(&started) {
                if let Some(missing) = tape.to_replay.front().and_then(|b| b.calls.first()) {
                    if outcome.is_ok() {
                        return Err(Stop::Diverged(missing_call(missing)));
                    }
                }
                return outcome.map(Finish::Done);
            }

            // New tool calls: check them against the journal; unusable arguments fail at once.
            let mut settled_now = false;
            let calls = self.bridge.calls.take();
            for call in calls {
                if let Some((path, args)) = tape.expected(call.id) {
                    let same = call.path == *path && call.args.as_ref().is_ok_and(|a| a == args);
                    if !same {
                        return Err(Stop::Diverged(ReplayError::Mismatch {
                            seq: call.id,
                            expected: describe_call(path, args.as_ref()),
                            found: describe_call(
                                &call.path,
                                call.args.as_ref().ok().and_then(Option::as_ref),
                            ),
                        }));
                    }
                }
                // Past the per-run cap a call answers a typed ToolResult at once, without reaching
                // the host or the journal (a replay makes the same calls and gets the same answer).
                if call.id > self.max_tool_calls {
                    let limited = super::tool_call_limit_result(&call.path, self.max_tool_calls);
                    self.settle(&started, call.id, HostReply::Resolve(limited))?;
                    settled_now = true;
                    continue;
                }
                match call.args {
                    Ok(args) => {
                        issued.insert(call.id, (call.path, args));
                    }
                    Err(message) => {
                        self.settle(&started, call.id, HostReply::Reject(message))?;
                        settled_now = true;
                    }
                }
            }
            if settled_now {
                continue;
            }

            // Replaying: deliver the next recorded batch.
            if let Some(batch) = tape.to_replay.pop_front() {
                for call in &batch.calls {
                    if issued.remove(&call.seq).is_none() {
                        return Err(Stop::Diverged(missing_call(call)));
                    }
                    tape.expected.remove(&call.seq);
                }
                self.advance(&started, batch.at)?;
                for call in &batch.calls {
                    self.settle(&started, call.seq, recorded_reply(&call.reply))?;
                }
                tape.record(batch);
                continue;
            }

            // Live: hand the waiting calls to the host.
            for (seq, (path, args)) in std::mem::take(&mut issued) {
                let host = self.host;
                let (call_path, call_args) = (path.clone(), args.clone());
                in_flight.push(InFlight {
                    seq,
                    path,
                    args,
                    reply: Box::pin(async move { host.call(&call_path, call_args).await }),
                });
            }
            if in_flight.is_empty() {
                if !parked.is_empty() {
                    return Ok(Finish::Paused(parked.swap_remove(0)));
                }
                return Err(Stop::Failed(
                    "Execution stalled: the script is waiting on a promise that nothing can settle \
                     (the sandbox has no timers)"
                        .to_owned(),
                ));
            }

            let remaining = self.deadline - self.clock.now_ms();
            if remaining <= 0.0 {
                return Err(Stop::Timeout);
            }
            let mut timer = self.host.sleep(remaining);
            let replies = poll_fn(|cx| {
                let mut ready = Vec::new();
                let mut index = 0;
                while index < in_flight.len() {
                    if let Poll::Ready(reply) = in_flight[index].reply.as_mut().poll(cx) {
                        let call = in_flight.swap_remove(index);
                        ready.push((call.seq, call.path, call.args, reply));
                    } else {
                        index += 1;
                    }
                }
                if !ready.is_empty() {
                    return Poll::Ready(Some(ready));
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await;

            let Some(mut replies) = replies else {
                return Err(Stop::Timeout);
            };
            let now = self.clock.now_ms();
            if now >= self.deadline {
                return Err(Stop::Timeout);
            }
            // swap_remove shuffles; settle in call order for determinism.
            crate::sort::sort_by(&mut replies, |(a, ..), (b, ..)| a.cmp(b));
            let mut batch = Batch {
                at: now,
                calls: Vec::with_capacity(replies.len()),
            };
            for (seq, path, args, reply) in replies {
                let reply = match reply {
                    HostReply::Pause(request) if !tape.overflowed => {
                        parked.push(PausedCall {
                            seq,
                            path,
                            args,
                            request,
                        });
                        continue;
                    }
                    HostReply::Pause(_) => HostReply::Reject(format!(
                        "tools.{path} needs approval, but this execution cannot pause: the tool \
                         results it already received exceed the {} KiB an execution may keep \
                         while it waits. Make the call that needs approval from a smaller script.",
                        MAX_JOURNAL_BYTES / 1024
                    )),
                    other => other,
                };
                batch.calls.push(Settled {
                    seq,
                    path,
                    args,
                    reply: Recorded::from_reply(reply),
                });
            }
            if batch.calls.is_empty() {
                continue;
            }
            self.advance(&started, batch.at)?;
            for call in &batch.calls {
                self.settle(&started, call.seq, recorded_reply(&call.reply))?;
            }
            tape.record(batch);
        }
    }

    /// Evaluates the prelude, installs the bridge, compiles the script and starts it.
    fn start(&self, ctx: &Ctx<'_>, code: &str, tape: &Tape) -> Result<Started, Stop> {
        let prelude: Function = ctx
            .eval_with_options(PRELUDE, eval_options(PRELUDE_FILE))
            .map_err(|e| self.stop_for(ctx, e, "the sandbox prelude failed"))?;

        let bridge = self.bridge.clone();
        let host_call = Function::new(ctx.clone(), move |path: String, args: Option<String>| {
            bridge.call(path, args)
        });
        let bridge = self.bridge.clone();
        let host_log = Function::new(ctx.clone(), move |level: String, line: String| {
            bridge.log(&level, &line);
        });
        let bridge = self.bridge.clone();
        let host_emit = Function::new(ctx.clone(), move |json: String| bridge.emit(&json));
        let (host_call, host_log, host_emit) = match (host_call, host_log, host_emit) {
            (Ok(a), Ok(b), Ok(c)) => (a, b, c),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                return Err(self.stop_for(ctx, e, "the sandbox bridge failed"));
            }
        };

        let seed: Vec<f64> = tape.seed.iter().map(|w| f64::from(*w)).collect();
        let api: Object = prelude
            .call((host_call, host_log, host_emit, seed, tape.start))
            .map_err(|e| self.stop_for(ctx, e, "the sandbox prelude failed"))?;
        let start: Function = api
            .get("start")
            .map_err(|e| self.stop_for(ctx, e, "the sandbox prelude failed"))?;
        let settle: Function = api
            .get("settle")
            .map_err(|e| self.stop_for(ctx, e, "the sandbox prelude failed"))?;
        let advance: Function = api
            .get("advance")
            .map_err(|e| self.stop_for(ctx, e, "the sandbox prelude failed"))?;

        let (main, is_expression) = self.compile(ctx, &preprocess::candidates(code))?;
        let finished: Promise = start
            .call((main, is_expression))
            .map_err(|e| self.stop_for(ctx, e, "the script could not be started"))?;

        Ok(Started {
            settle: Persistent::save(ctx, settle),
            advance: Persistent::save(ctx, advance),
            finished: Persistent::save(ctx, finished),
        })
    }

    /// Evaluates the candidates in order; the first that is not a syntax error wins.
    fn compile<'js>(
        &self,
        ctx: &Ctx<'js>,
        candidates: &[Candidate],
    ) -> Result<(Function<'js>, bool), Stop> {
        let mut last_error = Stop::Failed("SyntaxError: empty script".to_owned());
        for candidate in candidates {
            match ctx
                .eval_with_options::<Value, _>(candidate.source.as_str(), eval_options(SCRIPT_FILE))
            {
                Ok(value) => match value.into_function() {
                    Some(main) => return Ok((main, candidate.is_expression)),
                    None => {
                        return Err(Stop::Failed(
                            "the script could not be compiled into a function".to_owned(),
                        ))
                    }
                },
                Err(rquickjs::Error::Exception) => {
                    if self.timed_out.get() {
                        return Err(Stop::Timeout);
                    }
                    let thrown = ctx.catch();
                    let is_syntax_error = thrown
                        .as_object()
                        .and_then(|o| o.get::<_, Option<String>>("name").ok().flatten())
                        .is_some_and(|name| name == "SyntaxError");
                    let text = describe(ctx, thrown);
                    if !is_syntax_error {
                        return Err(Stop::Failed(text));
                    }
                    last_error = Stop::Failed(text);
                }
                Err(other) => return Err(Stop::Failed(other.to_string())),
            }
        }
        Err(last_error)
    }

    /// Runs QuickJS's job queue until it is empty.
    fn run_jobs(&self) -> Result<(), Stop> {
        loop {
            if self.timed_out.get() {
                return Err(Stop::Timeout);
            }
            match ACTIVE_CLOCK.set(self.clock, || self.runtime.execute_pending_job()) {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(_) => {
                    if self.timed_out.get() {
                        return Err(Stop::Timeout);
                    }
                    let text = self.js(|ctx| describe(&ctx, ctx.catch()));
                    return Err(Stop::Failed(text));
                }
            }
        }
    }

    /// The script's outcome once its promise has settled.
    fn finished(&self, started: &Started) -> Option<Result<Option<Json>, Stop>> {
        self.js(|ctx| {
            let promise = match started.finished.clone().restore(&ctx) {
                Ok(promise) => promise,
                Err(e) => return Some(Err(Stop::Failed(e.to_string()))),
            };
            let settled = promise.result::<Option<String>>()?;
            if self.timed_out.get() {
                return Some(Err(Stop::Timeout));
            }
            Some(match settled {
                Ok(None) => Ok(None),
                Ok(Some(json)) => serde_json::from_str(&json).map(Some).map_err(|e| {
                    Stop::Failed(format!("the result could not be read as JSON: {e}"))
                }),
                Err(rquickjs::Error::Exception) => Err(Stop::Failed(describe(&ctx, ctx.catch()))),
                Err(e) => Err(Stop::Failed(e.to_string())),
            })
        })
    }

    /// Delivers one tool call's outcome to the script.
    fn settle(&self, started: &Started, id: u32, reply: HostReply) -> Result<(), Stop> {
        let (ok, text) = match reply {
            HostReply::Resolve(value) => (true, value.to_string()),
            HostReply::Json(text) => (true, text),
            HostReply::Reject(message) => (false, message),
            // Parked by the loop; never delivered.
            HostReply::Pause(_) => return Ok(()),
        };
        self.js(|ctx| {
            let settle = started
                .settle
                .clone()
                .restore(&ctx)
                .map_err(|e| Stop::Failed(e.to_string()))?;
            settle
                .call::<_, ()>((id, ok, text))
                .map_err(|e| self.stop_for(&ctx, e, "delivering a tool result failed"))
        })
    }

    /// Moves the clock the script sees.
    fn advance(&self, started: &Started, at: f64) -> Result<(), Stop> {
        self.js(|ctx| {
            let advance = started
                .advance
                .clone()
                .restore(&ctx)
                .map_err(|e| Stop::Failed(e.to_string()))?;
            advance
                .call::<_, ()>((at,))
                .map_err(|e| self.stop_for(&ctx, e, "moving the sandbox clock failed"))
        })
    }

    /// Converts an rquickjs error into a stop reason, describing a pending JS exception.
    fn stop_for(&self, ctx: &Ctx<'_>, error: rquickjs::Error, context: &str) -> Stop {
        if self.timed_out.get() {
            return Stop::Timeout;
        }
        match error {
            rquickjs::Error::Exception => Stop::Failed(describe(ctx, ctx.catch())),
            other => Stop::Failed(format!("{context}: {other}")),
        }
    }
}

/// What a recorded outcome delivers to the script.
fn recorded_reply(recorded: &Recorded) -> HostReply {
    match recorded {
        Recorded::Ok(raw) => HostReply::Json(raw.get().to_owned()),
        Recorded::Err(message) => HostReply::Reject(message.clone()),
    }
}

fn missing_call(call: &Settled) -> ReplayError {
    ReplayError::Missing {
        seq: call.seq,
        expected: describe_call(&call.path, call.args.as_ref()),
    }
}

fn eval_options(file: &str) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = true;
    options.filename = Some(file.to_owned());
    options
}

/// Text for a thrown value: `message` (prefixed by the error's name unless it is plain `Error`)
/// plus the sandbox stack; other values through `String(value)`.
fn describe<'js>(ctx: &Ctx<'js>, thrown: Value<'js>) -> String {
    if let Some(text) = thrown.as_string().and_then(|s| s.to_string().ok()) {
        return text;
    }
    if let Some(object) = thrown.as_object() {
        let message = object.get::<_, Option<String>>("message").ok().flatten();
        if let Some(message) = message {
            let name = object.get::<_, Option<String>>("name").ok().flatten();
            let mut text = match name.as_deref() {
                None | Some("") | Some("Error") => message,
                Some(name) => format!("{name}: {message}"),
            };
            let stack = object.get::<_, Option<String>>("stack").ok().flatten();
            if let Some(stack) = stack {
                // The prelude's own frames say nothing useful to the script's author.
                for frame in stack
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.contains(PRELUDE_FILE))
                {
                    text.push('\n');
                    text.push_str(frame.trim_end());
                }
            }
            return text;
        }
    }
    if thrown.is_null() {
        // QuickJS throws `null` when memory is too exhausted to build the error object; a
        // script throwing `null` itself is indistinguishable and rare.
        return NULL_THROWN.to_owned();
    }
    match Coerced::<String>::from_js(ctx, thrown) {
        Ok(Coerced(text)) => text,
        Err(_) => {
            // Converting failed (typically memory exhaustion); clear whatever that threw.
            let _ = ctx.catch();
            OUT_OF_MEMORY.to_owned()
        }
    }
}
