// Sandbox prelude. Evaluated once per run, before the agent's code, as a function expression.
// The engine calls it with three native bridge functions, the run's random seed (four 32-bit
// words) and its starting clock; the bridge functions are only reachable through this closure
// (never through globalThis). It installs the sandbox globals and hands back the entry points the
// engine needs: `start` (run the compiled script), `settle` (deliver a tool call's outcome) and
// `advance` (move the clock the script sees).
//
// Determinism (see journal.rs): Math.random is a seeded generator, and the clock behind
// Date.now(), new Date(), Date() and performance.now() only moves when the engine calls `advance`,
// so a replayed run with the same seed and outcomes computes the same values.
// The leading `0,` keeps the function expression out of parentheses: QuickJS scans ahead to the
// matching `)` of any parenthesised expression (looking for `=>`), which would lex the whole
// prelude twice.
0, function (hostCall, hostLog, hostEmit, seed, startMs) {
  "use strict";

  // Keep our own references so that a script replacing JSON, Promise, Map, ... cannot interfere
  // with the plumbing.
  const global = globalThis;
  const toJson = JSON.stringify;
  const fromJson = JSON.parse;
  const PromiseCtor = Promise;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const ProxyCtor = Proxy;
  const MapCtor = Map;
  const StringCtor = String;
  const DateCtor = Date;
  const ReflectConstruct = Reflect.construct;
  const defineProperty = Object.defineProperty;

  // The clock the script sees.
  let clockMs = startMs;

  // Math.random: sfc32 (a small counter-based generator), two outputs per 53-bit double.
  let s0 = seed[0] >>> 0;
  let s1 = seed[1] >>> 0;
  let s2 = seed[2] >>> 0;
  let s3 = seed[3] >>> 0;
  function next32() {
    const t = (((s0 + s1) | 0) + s3) | 0;
    s3 = (s3 + 1) | 0;
    s0 = s1 ^ (s1 >>> 9);
    s1 = (s2 + (s2 << 3)) | 0;
    s2 = (s2 << 21) | (s2 >>> 11);
    s2 = (s2 + t) | 0;
    return t >>> 0;
  }
  for (let i = 0; i < 12; i++) next32();
  Math.random = function random() {
    const high = next32() >>> 5;
    const low = next32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  };

  // Date: the same constructor and prototype, but "now" is the sandbox clock.
  const SandboxDate = new ProxyCtor(DateCtor, {
    construct(target, args, newTarget) {
      return ReflectConstruct(target, args.length === 0 ? [clockMs] : args, newTarget);
    },
    apply() {
      return new DateCtor(clockMs).toString();
    },
  });
  defineProperty(DateCtor, "now", {
    value: function now() {
      return clockMs;
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
  defineProperty(DateCtor.prototype, "constructor", {
    value: SandboxDate,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  global.Date = SandboxDate;

  // performance.now(): milliseconds since the start, on the same clock.
  const performanceObject = {};
  defineProperty(performanceObject, "now", {
    value: function now() {
      return clockMs - startMs;
    },
  });
  defineProperty(performanceObject, "timeOrigin", { value: startMs });
  defineProperty(global, "performance", {
    value: performanceObject,
    writable: true,
    configurable: true,
    enumerable: false,
  });

  const waiting = new MapCtor();

  // Text for console output and fallbacks: strings verbatim, everything else as JSON when
  // possible, else String(value).
  function show(value) {
    if (typeof value === "string") return value;
    if (typeof value === "function") return "[function]";
    try {
      const json = toJson(value);
      if (json !== undefined) return json;
    } catch (_) {
      // fall through to String()
    }
    try {
      return StringCtor(value);
    } catch (_) {
      return "[unprintable value]";
    }
  }

  function errorMessage(err) {
    if (err && typeof err.message === "string") return err.message;
    return show(err);
  }

  function callTool(path, arg) {
    let json;
    try {
      json = arg === undefined ? undefined : toJson(arg);
    } catch (err) {
      return PromiseCtor.reject(
        new TypeErrorCtor("arguments of tools." + path + " must be JSON-serialisable: " + errorMessage(err)),
      );
    }
    return new PromiseCtor(function (resolve, reject) {
      const id = hostCall(path, json);
      waiting.set(id, { resolve: resolve, reject: reject });
    });
  }

  // `tools` is a lazy recursive proxy: property reads extend the path, a call invokes the host.
  // It is deliberately not thenable and has no enumerable keys.
  function toolsAt(path) {
    return new ProxyCtor(() => undefined, {
      get(_target, key) {
        if (typeof key !== "string" || key === "then" || key === "toJSON") return undefined;
        return toolsAt(path === "" ? key : path + "." + key);
      },
      apply(_target, _self, args) {
        if (path === "") {
          return PromiseCtor.reject(new TypeErrorCtor("tools itself is not callable; use tools.<path>(args)"));
        }
        return callTool(path, args[0]);
      },
      has() {
        return false;
      },
      ownKeys() {
        return [];
      },
      getOwnPropertyDescriptor() {
        return undefined;
      },
      set() {
        return false;
      },
      defineProperty() {
        return false;
      },
      deleteProperty() {
        return false;
      },
    });
  }

  const consoleObject = {};
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    consoleObject[level] = function (...args) {
      const parts = [];
      for (const arg of args) parts.push(show(arg));
      hostLog(level, parts.join(" "));
    };
  }

  global.tools = toolsAt("");
  global.console = consoleObject;
  global.emit = function emit(value) {
    let json;
    try {
      json = toJson(value);
    } catch (_) {
      json = undefined;
    }
    if (json === undefined) json = toJson(show(value));
    if (!hostEmit(json)) {
      throw new ErrorCtor("emit() output limit reached");
    }
    return undefined;
  };
  global.fetch = function fetch() {
    throw new ErrorCtor("fetch is disabled in the sandbox");
  };

  function settle(id, ok, text) {
    const entry = waiting.get(id);
    if (entry === undefined) return;
    waiting.delete(id);
    if (!ok) {
      entry.reject(new ErrorCtor(text));
      return;
    }
    let value;
    try {
      value = fromJson(text);
    } catch (err) {
      entry.reject(err);
      return;
    }
    entry.resolve(value);
  }

  // Runs the compiled script (an async function). For single-expression scripts a function
  // result is called. Resolves to the result as JSON text, or undefined.
  function start(main, isExpression) {
    return PromiseCtor.resolve().then(async function () {
      let value = await main();
      if (isExpression && typeof value === "function") value = await value();
      if (value === undefined) return undefined;
      let json;
      try {
        json = toJson(value);
      } catch (err) {
        throw new TypeErrorCtor("the result is not JSON-serialisable: " + errorMessage(err));
      }
      return json;
    });
  }

  function advance(ms) {
    clockMs = ms;
  }

  return { start: start, settle: settle, advance: advance };
}
