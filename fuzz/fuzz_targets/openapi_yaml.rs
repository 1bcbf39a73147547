//! `openapi_yaml`: see `executor::fuzzing::openapi_yaml` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::openapi_yaml(data));
