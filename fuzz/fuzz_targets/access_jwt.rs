//! `access_jwt`: see `executor::fuzzing::access_jwt` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::access_jwt(data));
