// Sandbox prelude. Evaluated once per run, before the agent's code, as a function expression.
// The engine calls it with three native bridge functions; they are only reachable through this
// closure (never through globalThis). It installs the sandbox globals and hands back the two
// entry points the engine needs: `start` (run the compiled script) and `settle` (deliver a tool
// call's outcome).
// The leading `0,` keeps the function expression out of parentheses: QuickJS scans ahead to the
// matching `)` of any parenthesised expression (looking for `=>`), which would lex the whole
// prelude twice.
0, function (hostCall, hostLog, hostEmit) {
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

  return { start: start, settle: settle };
}
