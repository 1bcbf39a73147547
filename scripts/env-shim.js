// Host functions imported by the wasm module under the `env` namespace.
// QuickJS (rquickjs) asks the host for the current time in microseconds.
export function __rquickjs_host_now_us() {
  return Date.now() * 1000;
}
