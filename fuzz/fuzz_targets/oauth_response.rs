//! `oauth_response`: see `executor::fuzzing::oauth_response` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::oauth_response(data));
