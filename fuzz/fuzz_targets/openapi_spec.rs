//! `openapi_spec`: see `executor::fuzzing::openapi_spec` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::openapi_spec(data));
