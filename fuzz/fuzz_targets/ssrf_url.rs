//! `ssrf_url`: see `executor::fuzzing::ssrf_url` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::ssrf_url(data));
