#!/bin/sh
# Offline worker-build: every helper binary comes from crates.io or npm, nothing is downloaded
# from GitHub releases (see ../shared/reference/toolchain.md, pitfalls P1, P2, P5, P12).
set -eu
cd "$(dirname "$0")/.."
ROOT="$PWD"
# Tests and `provision dev` build once up front and set SKIP_WORKER_BUILD=1 so that
# `wrangler dev` (which runs [build] on every start) reuses build/.
if [ -n "${SKIP_WORKER_BUILD:-}" ] && [ -f build/index.js ] && [ -f build/index_bg.wasm ]; then
  exit 0
fi
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"
# QuickJS's C shim imports `env.__rquickjs_host_now_us`; esbuild must resolve `env` to our shim.
export ESBUILD_BIN="$ROOT/scripts/esbuild-with-env-shim.sh"
# clang builds QuickJS for wasm32.
export CC_wasm32_unknown_unknown="${CC_wasm32_unknown_unknown:-clang}"
worker-build --release "$@"
# worker-build keeps the wasm "name" section (function names for stack traces): ~370 KB raw,
# ~95 KB gzip, which puts the Worker over its 1.0 MB gzip budget. Drop it; traps then show function
# indexes, and our own errors carry trace ids in the log. Same feature set worker-build enables.
# -Oz on the linked module (after wasm-bindgen) finds what LLVM's per-function -Oz cannot:
# ~5.5 KB gzip, about a minute on a loaded machine.
"$WASM_OPT_BIN" build/index_bg.wasm -Oz --strip-debug -o build/index_bg.wasm \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
