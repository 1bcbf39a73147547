#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::time::SystemClock;

/// Echoes calls back and records them; `fail.*` rejects, `slow.*` never answers.
#[derive(Default)]
struct TestHost {
    calls: RefCell<Vec<(String, Option<Value>)>>,
}

#[async_trait::async_trait(?Send)]
impl ToolHost for TestHost {
    async fn call(&self, path: &str, args: Option<Value>) -> HostReply {
        self.calls
            .borrow_mut()
            .push((path.to_owned(), args.clone()));
        if path.starts_with("fail.") {
            return HostReply::Reject(format!("{path} is broken"));
        }
        if path.starts_with("slow.") {
            std::future::pending::<()>().await;
        }
        if path.starts_with("big.") {
            let size = args.as_ref().and_then(|a| a["bytes"].as_u64()).unwrap_or(0) as usize;
            return HostReply::Json(format!("\"{}\"", "x".repeat(size)));
        }
        // Let the executor run something else first, like a real network call would.
        tokio::task::yield_now().await;
        HostReply::Resolve(json!({ "ok": true, "data": { "path": path, "args": args } }))
    }

    async fn sleep(&self, ms: f64) {
        tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
    }
}

async fn run_code(code: &str) -> RunResult {
    run(code, &Limits::default(), &NoTools, &SystemClock).await
}

async fn ok(code: &str) -> Option<Value> {
    let out = run_code(code).await;
    assert_eq!(out.error, None, "unexpected error for {code:?}");
    out.result
}

async fn err(code: &str) -> String {
    let out = run_code(code).await;
    assert_eq!(out.result, None);
    out.error.expect("an error")
}

#[tokio::test]
async fn return_statement() {
    assert_eq!(ok("return 6 * 7").await, Some(json!(42)));
    assert_eq!(ok("return 6 * 7;").await, Some(json!(42)));
}

#[tokio::test]
async fn export_default_expression_and_function() {
    assert_eq!(ok("export default 6 * 7").await, Some(json!(42)));
    assert_eq!(
        ok("export default async () => 'hi';").await,
        Some(json!("hi"))
    );
    assert_eq!(
        ok("export default async function main() { return [1, 2] }").await,
        Some(json!([1, 2]))
    );
}

#[tokio::test]
async fn fenced_block() {
    let code = "Sure, here it is:\n\n```js\nconst x = 40;\nreturn x + 2;\n```\nDone.";
    assert_eq!(ok(code).await, Some(json!(42)));
}

#[tokio::test]
async fn single_functions_are_called() {
    assert_eq!(ok("async () => 5").await, Some(json!(5)));
    assert_eq!(ok("() => ({ a: 1 })").await, Some(json!({ "a": 1 })));
    assert_eq!(ok("function main(){return 3}").await, Some(json!(3)));
    assert_eq!(
        ok("async function main() {\n  const v = await Promise.resolve(4);\n  return v; // done\n}")
            .await,
        Some(json!(4))
    );
}

#[tokio::test]
async fn single_expressions_return_their_value() {
    assert_eq!(ok("1 + 1").await, Some(json!(2)));
    assert_eq!(ok("1 + 1 // two").await, Some(json!(2)));
    assert_eq!(ok("1 + 1;\n").await, Some(json!(2)));
    assert_eq!(
        ok("({ a: [1, 'x', null] })").await,
        Some(json!({ "a": [1, "x", null] }))
    );
    assert_eq!(ok("'text'").await, Some(json!("text")));
}

#[tokio::test]
async fn statements_without_return_give_none() {
    assert_eq!(ok("const a = 1;\nlet b = a + 1;").await, None);
    assert_eq!(ok("").await, None);
    assert_eq!(ok("return undefined").await, None);
    assert_eq!(ok("return () => 1").await, None);
    assert_eq!(ok("return null").await, Some(Value::Null));
}

#[tokio::test]
async fn non_serialisable_result_is_an_error() {
    let e = err("return 10n").await;
    assert!(e.contains("not JSON-serialisable"), "{e}");
    let e = err("const a = {}; a.self = a; return a").await;
    assert!(e.contains("not JSON-serialisable"), "{e}");
}

#[tokio::test]
async fn tool_calls_reach_the_host() {
    let host = TestHost::default();
    let code = r#"
        const a = await tools.petstore.pets.get({ id: 1 });
        const b = await tools["x.y.z"]();
        const [c, d] = await Promise.all([tools.p.one(1, 2), tools.p.two("s")]);
        return [a, b.data.path, c.data.args, d.data.args];
    "#;
    let out = run(code, &Limits::default(), &host, &SystemClock).await;
    assert_eq!(out.error, None);
    assert_eq!(
        out.result,
        Some(json!([
            { "ok": true, "data": { "path": "petstore.pets.get", "args": { "id": 1 } } },
            "x.y.z",
            1,
            "s"
        ]))
    );
    let calls = host.calls.borrow();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[1], ("x.y.z".to_owned(), None));
}

#[tokio::test]
async fn single_expression_tool_call() {
    let host = TestHost::default();
    let out = run(
        "await tools.a.b({ q: 'x' })",
        &Limits::default(),
        &host,
        &SystemClock,
    )
    .await;
    assert_eq!(out.error, None);
    assert_eq!(out.result.unwrap()["data"]["args"], json!({ "q": "x" }));
}

#[tokio::test]
async fn rejecting_host_rejects_the_promise() {
    let host = TestHost::default();
    let code = r#"
        try { await tools.fail.now(); } catch (e) { return [e instanceof Error, e.message]; }
    "#;
    let out = run(code, &Limits::default(), &host, &SystemClock).await;
    assert_eq!(out.result, Some(json!([true, "fail.now is broken"])));

    let out = run(
        "return await tools.fail.again()",
        &Limits::default(),
        &host,
        &SystemClock,
    )
    .await;
    assert!(out.error.unwrap().starts_with("fail.again is broken"));
}

#[tokio::test]
async fn no_tools_host_answers_tool_not_found() {
    let out = ok("return await tools.nope.missing({})").await;
    assert_eq!(
        out,
        Some(json!({
            "ok": false,
            "error": { "code": "tool_not_found", "message": "Tool not found: nope.missing" }
        }))
    );
}

#[tokio::test]
async fn tools_proxy_shape() {
    assert_eq!(
        ok("return [typeof tools.then, typeof tools.a.b.then, tools[Symbol.iterator], Object.keys(tools).length, 'x' in tools]")
            .await,
        Some(json!(["undefined", "undefined", null, 0, false]))
    );
    // Awaiting the proxy itself must not call the host.
    let host = TestHost::default();
    let out = run(
        "const t = await tools.a; return typeof t",
        &Limits::default(),
        &host,
        &SystemClock,
    )
    .await;
    assert_eq!(out.result, Some(json!("function")));
    assert!(host.calls.borrow().is_empty());
}

#[tokio::test]
async fn non_json_arguments_reject() {
    let e = err("return await tools.a.b({ n: 1n })").await;
    assert!(e.contains("JSON-serialisable"), "{e}");
}

#[tokio::test]
async fn console_is_captured() {
    let out = run_code(
        "console.log('hello from sandbox'); console.warn({ a: 1 }, [2], 3); \
         console.error(undefined, null, 'x'); console.info(); console.debug(1n); return 1",
    )
    .await;
    assert_eq!(out.error, None);
    assert_eq!(
        out.logs,
        vec![
            "[log] hello from sandbox",
            "[warn] {\"a\":1} [2] 3",
            "[error] undefined null x",
            "[info] ",
            "[debug] 1",
        ]
    );
}

#[tokio::test]
async fn emit_records_values() {
    let out = run_code(
        "emit('text'); emit({ type: 'text', text: 'hi' }); emit(undefined); return emit(3)",
    )
    .await;
    assert_eq!(out.error, None);
    assert_eq!(out.result, None);
    assert_eq!(
        out.emitted,
        vec![
            json!("text"),
            json!({ "type": "text", "text": "hi" }),
            json!("undefined"),
            json!(3)
        ]
    );
}

#[tokio::test]
async fn host_globals_are_absent() {
    assert_eq!(
        ok(
            "return [typeof setTimeout, typeof setInterval, typeof require, typeof process, \
            Object.getOwnPropertyNames(globalThis).filter(n => n.startsWith('__'))]"
        )
        .await,
        Some(json!([
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            []
        ]))
    );
}

#[tokio::test]
async fn fetch_is_disabled() {
    let e = err("await fetch('https://example.com')").await;
    assert!(e.starts_with("fetch is disabled in the sandbox"), "{e}");
}

#[tokio::test]
async fn thrown_errors() {
    let e = err("throw new Error('boom')").await;
    assert!(e.starts_with("boom\n"), "{e}");
    assert!(e.contains("sandbox.js"), "{e}");
    let e = err("null.x").await;
    assert!(e.starts_with("TypeError: "), "{e}");
    assert_eq!(err("throw 'plain'").await, "plain");
    assert_eq!(err("throw 42").await, "42");
    assert_eq!(err("throw undefined").await, "undefined");
    assert_eq!(err("throw { code: 7 }").await, "[object Object]");
}

#[tokio::test]
async fn syntax_errors_are_results() {
    let e = err("return ((").await;
    assert!(e.starts_with("SyntaxError"), "{e}");
    let e = err("export default {").await;
    assert!(e.starts_with("SyntaxError"), "{e}");
}

#[tokio::test]
async fn infinite_loop_times_out() {
    let limits = Limits {
        timeout_ms: 200,
        ..Limits::default()
    };
    let begun = Instant::now();
    let out = run("while (true) {}", &limits, &NoTools, &SystemClock).await;
    let took = begun.elapsed();
    assert_eq!(
        out.error.as_deref(),
        Some("Execution timed out after 200 ms")
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
    eprintln!("200 ms timeout stopped after {took:?}");
}

#[tokio::test]
async fn timeout_cannot_be_caught() {
    let limits = Limits {
        timeout_ms: 100,
        ..Limits::default()
    };
    let out = run(
        "for (;;) { try { while (true) {} } catch (e) { console.log('caught') } }",
        &limits,
        &NoTools,
        &SystemClock,
    )
    .await;
    assert_eq!(
        out.error.as_deref(),
        Some("Execution timed out after 100 ms")
    );
    assert!(out.logs.is_empty());
}

#[tokio::test]
async fn deadline_holds_while_waiting_on_the_host() {
    let host = TestHost::default();
    let limits = Limits {
        timeout_ms: 150,
        ..Limits::default()
    };
    let begun = Instant::now();
    let out = run(
        "return await tools.slow.call()",
        &limits,
        &host,
        &SystemClock,
    )
    .await;
    assert_eq!(
        out.error.as_deref(),
        Some("Execution timed out after 150 ms")
    );
    assert!(begun.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn never_settling_promise_is_reported() {
    let e = err("await new Promise(() => {})").await;
    assert!(e.contains("stalled"), "{e}");
}

#[tokio::test]
async fn memory_exhaustion_is_an_error() {
    let limits = Limits {
        memory_bytes: 8 * 1024 * 1024,
        ..Limits::default()
    };
    let begun = Instant::now();
    let out = run(
        "const parts = []; while (true) { parts.push('x'.repeat(1000) + parts.length); }",
        &limits,
        &NoTools,
        &SystemClock,
    )
    .await;
    let e = out.error.expect("an error");
    assert!(e.contains("out of memory"), "{e}");
    assert!(begun.elapsed() < Duration::from_secs(5));

    let out = run(
        "const a = []; while (true) a.push({ n: a.length, s: 'item' + a.length });",
        &limits,
        &NoTools,
        &SystemClock,
    )
    .await;
    let e = out.error.expect("an error");
    assert!(e.contains("out of memory"), "{e}");
}

#[tokio::test]
async fn deep_recursion_is_an_error() {
    let e = err("function f(n) { return f(n + 1) + 1 } return f(0)").await;
    assert!(e.contains("stack"), "{e}");
}

#[tokio::test]
async fn standard_builtins_work() {
    assert_eq!(
        ok("return [Math.max(1, 3), JSON.parse('[1]'), typeof Date.now(), /a+/.test('caa'), [3,1,2].sort()]")
            .await,
        Some(json!([3, [1], "number", true, [1, 2, 3]]))
    );
}

#[tokio::test]
async fn simple_run_is_fast() {
    let begun = Instant::now();
    assert_eq!(ok("return 6 * 7").await, Some(json!(42)));
    eprintln!("simple run took {:?}", begun.elapsed());
}

#[tokio::test]
async fn frozen_clock_still_stops_infinite_loops() {
    let limits = Limits {
        timeout_ms: 50,
        ..Limits::default()
    };
    let begun = Instant::now();
    let out = run(
        "while (true) {}",
        &limits,
        &NoTools,
        &crate::time::FixedClock(0.0),
    )
    .await;
    assert_eq!(
        out.error.as_deref(),
        Some("Execution timed out after 50 ms")
    );
    assert!(
        begun.elapsed() < Duration::from_secs(2),
        "took {:?}",
        begun.elapsed()
    );
}

#[tokio::test]
async fn endless_microtasks_time_out() {
    let limits = Limits {
        timeout_ms: 100,
        ..Limits::default()
    };
    let out = run("while (true) await null;", &limits, &NoTools, &SystemClock).await;
    assert_eq!(
        out.error.as_deref(),
        Some("Execution timed out after 100 ms")
    );
}

#[tokio::test]
async fn console_output_is_capped() {
    let out = run_code(
        "const line = 'x'.repeat(1000); for (let i = 0; i < 5000; i++) console.log(line); return 1",
    )
    .await;
    assert_eq!(out.result, Some(json!(1)));
    assert!(out.logs.len() < 1100, "{}", out.logs.len());
    assert!(out.logs.last().unwrap().contains("log limit"));
}

/// Advances one millisecond per reading.
struct SteppingClock(std::cell::Cell<f64>);

impl crate::time::Clock for SteppingClock {
    fn now_ms(&self) -> f64 {
        let now = self.0.get() + 1.0;
        self.0.set(now);
        now
    }
}

#[tokio::test]
async fn deadline_uses_the_injected_clock() {
    let clock = SteppingClock(std::cell::Cell::new(0.0));
    let limits = Limits {
        timeout_ms: 20,
        ..Limits::default()
    };
    let out = run("while (true) {}", &limits, &NoTools, &clock).await;
    assert_eq!(
        out.error.as_deref(),
        Some("Execution timed out after 20 ms")
    );
    // Far fewer readings than the frozen-clock backstop (2,000 polls) would need.
    assert!(clock.0.get() < 200.0, "{}", clock.0.get());
}

/// Per-phase timings of a trivial run (`cargo test --release -p executor --lib
/// sandbox::tests::trivial_run_phases -- --ignored --nocapture`).
#[tokio::test]
#[ignore]
async fn trivial_run_phases() {
    use rquickjs::{Context, Function, Runtime};
    const N: u32 = 200;
    let mut t: Vec<Vec<Duration>> = vec![Vec::new(); 9];
    for _ in 0..N {
        let a = Instant::now();
        let rt = Runtime::new().unwrap();
        rt.set_memory_limit(64 << 20);
        rt.set_max_stack_size(1 << 20);
        let b = Instant::now();
        let ctx = Context::full(&rt).unwrap();
        let c = Instant::now();
        ctx.with(|ctx| {
            let f: Function = ctx.eval(include_str!("prelude.js")).unwrap();
            let _ = f;
        });
        let c2 = Instant::now();
        ctx.with(|ctx| {
            let f: Function = ctx.eval(include_str!("prelude.js")).unwrap();
            let a = Function::new(ctx.clone(), |_p: String, _a: Option<String>| 1u32).unwrap();
            let b = Function::new(ctx.clone(), |_l: String, _m: String| {}).unwrap();
            let c = Function::new(ctx.clone(), |_j: String| true).unwrap();
            let _api: rquickjs::Object = f.call((a, b, c)).unwrap();
        });
        let d = Instant::now();
        ctx.with(|ctx| {
            assert!(ctx
                .eval::<Function, _>("(async () => (return 1 + 1\n))")
                .is_err());
            let _ = ctx.catch();
        });
        let e = Instant::now();
        ctx.with(|ctx| {
            let _f: Function = ctx.eval("(async () => {return 1 + 1\n})").unwrap();
        });
        let f = Instant::now();
        drop(ctx);
        let g0 = Instant::now();
        rt.run_gc();
        let g1 = Instant::now();
        drop(rt);
        let g = Instant::now();
        for (i, (x, y)) in [
            (a, b),
            (b, c),
            (c, c2),
            (c2, d),
            (d, e),
            (e, f),
            (f, g0),
            (g0, g1),
            (g1, g),
        ]
        .iter()
        .enumerate()
        {
            t[i].push(*y - *x);
        }
    }
    for (name, d) in [
        "runtime",
        "context_full",
        "prelude_eval",
        "prelude_eval+call",
        "bad_candidate",
        "body_compile",
        "drop_context",
        "gc_after",
        "drop_runtime",
    ]
    .iter()
    .zip(t)
    {
        let mut d = d;
        d.sort();
        eprintln!("{name:>18}: median {:?}, min {:?}", d[d.len() / 2], d[0]);
    }
    for code in ["return 1 + 1", "1 + 1"] {
        let _ = run_code(code).await;
        let mut d = Vec::new();
        for _ in 0..N {
            let begun = Instant::now();
            assert_eq!(run_code(code).await.result, Some(json!(2)));
            d.push(begun.elapsed());
        }
        d.sort();
        eprintln!("run({code:?}): median {:?}, min {:?}", d[d.len() / 2], d[0]);
    }
}

/// The preprocessor skips the expression reading for text starting with a statement keyword;
/// that is only sound if that reading can never compile.
#[test]
fn statement_keywords_never_start_an_expression() {
    use rquickjs::{context::EvalOptions, Context, Runtime, Value};
    let runtime = Runtime::new().unwrap();
    let context = Context::full(&runtime).unwrap();
    context.with(|ctx| {
        for keyword in super::preprocess::STATEMENT_KEYWORDS {
            for rest in ["", " x", "(x)", "[x]", " {}", ".x", " = 1", "\n=> 1"] {
                let mut options = EvalOptions::default();
                options.global = true;
                options.strict = true;
                let source = format!("(async () => ({keyword}{rest}\n))");
                let outcome = ctx.eval_with_options::<Value, _>(source.as_str(), options);
                assert!(outcome.is_err(), "{source} compiled");
                let thrown = ctx.catch();
                let name: String = thrown.as_object().unwrap().get("name").unwrap();
                assert_eq!(name, "SyntaxError", "{source}");
            }
        }
    });
}

/// Runs reuse one QuickJS runtime (see `engine::keep_for_reuse`); each still starts from fresh
/// globals and built-ins, and a failed or timed-out run leaves nothing behind.
#[tokio::test]
async fn runs_share_no_state() {
    assert_eq!(
        ok(
            "globalThis.leak = 1; Array.prototype.leak = 2; JSON.stringify = () => 'x'; \
            Object.freeze(Object.prototype); return 1"
        )
        .await,
        Some(json!(1))
    );
    assert_eq!(
        ok("return [typeof leak, [].leak, JSON.stringify([1]), Object.isFrozen(Object.prototype)]")
            .await,
        Some(json!(["undefined", null, "[1]", false]))
    );
    let limits = Limits {
        timeout_ms: 50,
        ..Limits::default()
    };
    let out = run(
        "globalThis.late = 1; while (true) {}",
        &limits,
        &NoTools,
        &SystemClock,
    )
    .await;
    assert!(out.error.unwrap().contains("timed out"));
    assert_eq!(ok("return typeof late").await, Some(json!("undefined")));
    // The caps still hold on a reused runtime, including a smaller memory cap than the last run's.
    assert_eq!(ok("return 1").await, Some(json!(1)));
    let small = Limits {
        memory_bytes: 8 * 1024 * 1024,
        ..Limits::default()
    };
    let out = run(
        "const a = []; while (true) a.push({ n: a.length, s: 'item' + a.length });",
        &small,
        &NoTools,
        &SystemClock,
    )
    .await;
    let e = out.error.expect("an error");
    assert!(e.contains("out of memory"), "{e}");
    assert_eq!(ok("return 1").await, Some(json!(1)));
    let e = err("function f(n) { return f(n + 1) + 1 } return f(0)").await;
    assert!(e.contains("stack"), "{e}");
    let e = err("function f(n) { return f(n + 1) + 1 } return f(0)").await;
    assert!(e.contains("stack"), "{e}");
    assert_eq!(
        ok("return [1, 2, 3].map((x) => x * 2)").await,
        Some(json!([2, 4, 6]))
    );
}

/// What each QuickJS intrinsic adds to `Context` creation (timing only, `--ignored`).
#[test]
#[ignore]
fn context_intrinsic_costs() {
    use rquickjs::context::intrinsic::*;
    use rquickjs::{Context, Runtime};
    fn time<I: rquickjs::context::Intrinsic>(name: &str, rt: &Runtime) {
        let mut d = Vec::new();
        for _ in 0..300 {
            let begun = Instant::now();
            drop(Context::custom::<I>(rt).unwrap());
            rt.run_gc();
            d.push(begun.elapsed());
        }
        d.sort();
        eprintln!("{name:>14}: median {:?}, min {:?}", d[d.len() / 2], d[0]);
    }
    let rt = Runtime::new().unwrap();
    time::<All>("all", &rt);
    time::<None>("base", &rt);
    time::<(Date,)>("+date", &rt);
    time::<(Eval,)>("+eval", &rt);
    time::<(RegExpCompiler, RegExp)>("+regexp", &rt);
    time::<(Json,)>("+json", &rt);
    time::<(Proxy,)>("+proxy", &rt);
    time::<(MapSet,)>("+mapset", &rt);
    time::<(TypedArrays,)>("+typedarrays", &rt);
    time::<(Promise,)>("+promise", &rt);
    time::<(Performance,)>("+performance", &rt);
    time::<(WeakRef,)>("+weakref", &rt);
    time::<(DOMException,)>("+domexception", &rt);
}

// ---------------------------------------------------------------------------------------------
// Journals, pauses and replays

/// Answers `gate.*` with a pause, everything else like [`TestHost`]; counts live calls.
#[derive(Default)]
struct GateHost {
    calls: RefCell<Vec<String>>,
}

#[async_trait::async_trait(?Send)]
impl ToolHost for GateHost {
    async fn call(&self, path: &str, args: Option<Value>) -> HostReply {
        self.calls.borrow_mut().push(path.to_owned());
        tokio::task::yield_now().await;
        if path.starts_with("gate.") {
            return HostReply::Pause(PauseRequest {
                address: format!("tools.{path}"),
                message: format!("Approve {path}?"),
            });
        }
        HostReply::Json(format!(
            r#"{{"zfirst":true,"path":"{path}","args":{}}}"#,
            args.map(|a| a.to_string()).unwrap_or_else(|| "null".into())
        ))
    }
}

/// A clock that moves 1 s per reading.
struct TickingClock(std::cell::Cell<f64>);

impl crate::time::Clock for TickingClock {
    fn now_ms(&self) -> f64 {
        let now = self.0.get();
        self.0.set(now + 1000.0);
        now
    }
}

fn ticking() -> TickingClock {
    TickingClock(std::cell::Cell::new(1_000_000.0))
}

/// The journal plus the outcome of the paused call.
fn decided(mut journal: Journal, paused: &PausedCall, at: f64, reply: Recorded) -> Journal {
    journal.batches.push(Batch {
        at,
        calls: vec![Settled {
            seq: paused.seq,
            path: paused.path.clone(),
            args: paused.args.clone(),
            reply,
        }],
    });
    journal
}

fn ok_reply(json: &str) -> Recorded {
    Recorded::Ok(serde_json::value::RawValue::from_string(json.to_owned()).unwrap())
}

#[tokio::test]
async fn clock_and_random_are_deterministic_under_replay() {
    let code = "const before = [Date.now(), new Date().getTime(), typeof Date(), \
                new Date(5).getTime(), performance.now(), new Date() instanceof Date, \
                new Date().constructor === Date];\n\
                const r = [Math.random(), Math.random()];\n\
                await tools.x.one({});\n\
                return { before, r, after: Date.now(), r2: Math.random(), perf: performance.now() };";
    let host = GateHost::default();
    let clock = ticking();
    let first = run(code, &Limits::default(), &host, &clock).await;
    assert_eq!(first.error, None);
    let journal = first.journal.clone().unwrap();
    let result = first.result.unwrap();
    // The clock stands still until an outcome is delivered, then shows the delivery time.
    let start = journal.start as u64;
    assert_eq!(
        result["before"],
        json!([start, start, "string", 5, 0, true, true])
    );
    assert_eq!(journal.batches.len(), 1);
    let at = journal.batches[0].at as u64;
    assert!(at > start);
    assert_eq!(result["after"], json!(at));
    assert_eq!(result["perf"], json!(at - start));
    let r = result["r"].as_array().unwrap();
    assert!(r.iter().all(|v| (0.0..1.0).contains(&v.as_f64().unwrap())));
    assert_ne!(r[0], r[1]);

    // A replay with the journal sees the same values without calling the host.
    let replay_host = GateHost::default();
    let again = replay(
        code,
        &Limits::default(),
        &replay_host,
        &ticking(),
        journal.clone(),
    )
    .await
    .unwrap();
    assert_eq!(again.result.unwrap(), result);
    assert!(replay_host.calls.borrow().is_empty());
    assert_eq!(again.journal.unwrap(), journal);

    // Another execution gets another seed.
    let other = run(code, &Limits::default(), &GateHost::default(), &ticking()).await;
    assert_ne!(other.result.unwrap()["r"], result["r"]);
}

#[tokio::test]
async fn a_paused_call_ends_the_run_and_a_replay_continues_it() {
    let code = "console.log('start');\n\
                const a = await tools.x.one({ n: 1 });\n\
                let b;\n\
                try { b = await tools.gate.two({ n: 2 }); } catch (e) { b = 'rejected: ' + e.message; }\n\
                const c = await tools.x.three();\n\
                return { a, b, c, r: Math.random() };";
    let host = GateHost::default();
    let clock = ticking();
    let first = run(code, &Limits::default(), &host, &clock).await;
    assert_eq!((first.result.clone(), first.error.clone()), (None, None));
    let paused = first.paused.clone().unwrap();
    assert_eq!(paused.seq, 2);
    assert_eq!(paused.path, "gate.two");
    assert_eq!(paused.args, Some(json!({ "n": 2 })));
    assert_eq!(paused.request.address, "tools.gate.two");
    assert_eq!(first.logs, vec!["[log] start"]);
    let journal = first.journal.unwrap();
    assert_eq!(journal.batches.len(), 1);
    assert_eq!(journal.batches[0].calls[0].path, "x.one");
    assert_eq!(*host.calls.borrow(), vec!["x.one", "gate.two"]);

    // Accepted: the decision is the paused call's outcome; only later calls are live.
    let resumed_host = GateHost::default();
    let journal = decided(
        journal,
        &paused,
        5e6,
        ok_reply(r#"{"ok":true,"approved":1}"#),
    );
    let resumed = replay(
        code,
        &Limits::default(),
        &resumed_host,
        &clock,
        journal.clone(),
    )
    .await
    .unwrap();
    assert_eq!(resumed.error, None);
    assert_eq!(*resumed_host.calls.borrow(), vec!["x.three"]);
    let result = resumed.result.unwrap();
    assert_eq!(result["b"], json!({ "ok": true, "approved": 1 }));
    assert_eq!(result["a"]["path"], "x.one");
    assert_eq!(result["c"]["path"], "x.three");
    // Logs come from the whole run, replayed part included.
    assert_eq!(resumed.logs, vec!["[log] start"]);
    // Upstream key order is what the script sees.
    assert!(serde_json::to_string(&result["a"]).is_ok());
    let recorded = resumed.journal.unwrap();
    assert_eq!(recorded.batches.len(), 3);
    assert_eq!(recorded.batches[..2], journal.batches[..]);

    // Declined: the paused call rejects.
    let journal = decided(
        first_journal(code).await.0,
        &paused,
        5e6,
        Recorded::Err("declined".into()),
    );
    let declined = replay(
        code,
        &Limits::default(),
        &GateHost::default(),
        &clock,
        journal,
    )
    .await
    .unwrap();
    assert_eq!(declined.result.unwrap()["b"], "rejected: declined");
}

/// A fresh run of `code` against [`GateHost`]: its journal and paused call.
async fn first_journal(code: &str) -> (Journal, PausedCall) {
    let out = run(code, &Limits::default(), &GateHost::default(), &ticking()).await;
    (out.journal.unwrap(), out.paused.unwrap())
}

#[tokio::test]
async fn concurrent_gates_pause_one_at_a_time() {
    let code =
        "const [a, b, c] = await Promise.all([tools.gate.a(1), tools.x.b(2), tools.gate.c(3)]);\n\
                return [a.path ?? a, b.path, c.path ?? c];";
    let (journal, paused) = first_journal(code).await;
    // The other calls settled (and were recorded) before the run paused at the first gate.
    assert_eq!(paused.path, "gate.a");
    assert_eq!(journal.batches.len(), 1);
    assert_eq!(journal.batches[0].calls[0].path, "x.b");

    let journal = decided(journal, &paused, 7e6, ok_reply("\"A\""));
    let host = GateHost::default();
    let second = replay(code, &Limits::default(), &host, &ticking(), journal)
        .await
        .unwrap();
    let paused_c = second.paused.clone().unwrap();
    assert_eq!((paused_c.seq, paused_c.path.as_str()), (3, "gate.c"));
    // Only the still-open gate went to the host again.
    assert_eq!(*host.calls.borrow(), vec!["gate.c"]);

    let journal = decided(second.journal.unwrap(), &paused_c, 8e6, ok_reply("\"C\""));
    let host = GateHost::default();
    let done = replay(code, &Limits::default(), &host, &ticking(), journal)
        .await
        .unwrap();
    assert_eq!(done.result, Some(json!(["A", "x.b", "C"])));
    assert!(host.calls.borrow().is_empty());
}

#[tokio::test]
async fn scripts_that_do_not_await_a_gate_just_finish() {
    let out = run(
        "tools.gate.never(); return 1",
        &Limits::default(),
        &GateHost::default(),
        &ticking(),
    )
    .await;
    assert_eq!((out.result, out.paused), (Some(json!(1)), None));
}

#[tokio::test]
async fn replays_that_diverge_are_typed_errors() {
    let code = "const n = await tools.x.one({ n: 1 }); return await tools.gate.two({ n: 2 });";
    let (journal, paused) = first_journal(code).await;
    let journal = decided(journal, &paused, 9e6, ok_reply("2"));

    // Other arguments for a recorded call.
    let changed = "const n = await tools.x.one({ n: 5 }); return await tools.gate.two({ n: 2 });";
    let e = replay(
        changed,
        &Limits::default(),
        &GateHost::default(),
        &ticking(),
        journal.clone(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ReplayError::Mismatch { seq: 1, .. }), "{e:?}");
    assert!(e
        .to_string()
        .starts_with("the script did not replay deterministically"));
    assert!(e.to_string().contains(r#"tools.x.one({"n":5})"#), "{e}");

    // A recorded call that is not made again.
    let shorter = "return 3";
    let e = replay(
        shorter,
        &Limits::default(),
        &GateHost::default(),
        &ticking(),
        journal.clone(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ReplayError::Missing { seq: 1, .. }), "{e:?}");

    // Randomness steering the calls is replayed, so the same code never diverges.
    let random = "const i = Math.floor(Math.random() * 1000);\n\
                  await tools.x.one({ i });\n\
                  return await tools.gate.two({ i });";
    let (journal, paused) = first_journal(random).await;
    let journal = decided(journal, &paused, 9e6, ok_reply("true"));
    let out = replay(
        random,
        &Limits::default(),
        &GateHost::default(),
        &ticking(),
        journal,
    )
    .await
    .unwrap();
    assert_eq!(out.result, Some(json!(true)));
}

#[tokio::test]
async fn oversized_journals_reject_gated_calls_instead_of_pausing() {
    struct Big;
    #[async_trait::async_trait(?Send)]
    impl ToolHost for Big {
        async fn call(&self, path: &str, _args: Option<Value>) -> HostReply {
            if path.starts_with("gate.") {
                return HostReply::Pause(PauseRequest {
                    address: format!("tools.{path}"),
                    message: "Approve?".into(),
                });
            }
            HostReply::Json(format!("\"{}\"", "x".repeat(300 * 1024)))
        }
    }
    let code = "for (let i = 0; i < 4; i++) await tools.big.read();\n\
                try { await tools.gate.write(); return 'paused?'; } catch (e) { return e.message; }";
    let out = run(code, &Limits::default(), &Big, &ticking()).await;
    assert_eq!(out.paused, None);
    assert!(out.journal.is_none());
    let message = out.result.unwrap();
    assert!(
        message.as_str().unwrap().contains("cannot pause"),
        "{message}"
    );
}

#[tokio::test]
async fn tool_calls_past_the_limit_answer_a_typed_result_without_reaching_the_host() {
    let limits = Limits {
        max_tool_calls: 5,
        ..Limits::default()
    };
    let host = TestHost::default();
    let code = "const out = []; for (let i = 0; i < 8; i++) out.push(await tools.echo.n({ i })); \
                return out.map((r) => r.ok ? 'ok' : r.error.code + ':' + r.error.details.limit);";
    let out = run(code, &limits, &host, &SystemClock).await;
    assert_eq!(out.error, None);
    assert_eq!(
        out.result,
        Some(json!([
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "tool_call_limit_exceeded:5",
            "tool_call_limit_exceeded:5",
            "tool_call_limit_exceeded:5"
        ]))
    );
    assert_eq!(host.calls.borrow().len(), 5);
    // Concurrent calls are counted too.
    let host = TestHost::default();
    let code = "const rs = await Promise.all([1,2,3,4,5,6,7].map((i) => tools.echo.n({ i }))); \
                return rs.filter((r) => !r.ok).length;";
    let out = run(code, &limits, &host, &SystemClock).await;
    assert_eq!(out.result, Some(json!(2)));
    assert_eq!(host.calls.borrow().len(), 5);
    // The message names the limit.
    let out = run(
        "for (let i = 0; i < 5; i++) await tools.echo.n(); return (await tools.echo.n()).error.message;",
        &limits,
        &host,
        &SystemClock,
    )
    .await;
    let message = out.result.unwrap();
    assert!(
        message.as_str().unwrap().contains("at most 5 tool calls"),
        "{message}"
    );
}

#[tokio::test]
async fn oversized_tool_results_become_a_typed_result() {
    let host = TestHost::default();
    let fits = MAX_TOOL_RESULT_BYTES - 2;
    let code = format!(
        "const small = await tools.big.x({{ bytes: {fits} }}); \
         const large = await tools.big.x({{ bytes: {} }}); \
         return [small.length, large.ok, large.error.code, large.error.details.limitBytes];",
        fits + 1
    );
    let out = run(&code, &Limits::default(), &host, &SystemClock).await;
    assert_eq!(out.error, None);
    assert_eq!(
        out.result,
        Some(json!([
            fits,
            false,
            "tool_result_too_large",
            MAX_TOOL_RESULT_BYTES
        ]))
    );
    // What the journal keeps is the typed result, not the oversized text.
    let big = format!("\"{}\"", "x".repeat(MAX_TOOL_RESULT_BYTES));
    match Recorded::from_reply(HostReply::Json(big)) {
        Recorded::Ok(raw) => assert!(raw.get().contains("tool_result_too_large")),
        other => panic!("{other:?}"),
    }
}
