#!/bin/sh
# worker-build runs esbuild on the generated JS; alias the wasm module's `env` import to our shim.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec "$ROOT/node_modules/.bin/esbuild" "$@" "--alias:env=$ROOT/scripts/env-shim.js"
