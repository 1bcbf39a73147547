//! `sandbox_preprocess`: see `executor::fuzzing::sandbox_preprocess` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::sandbox_preprocess(data));
