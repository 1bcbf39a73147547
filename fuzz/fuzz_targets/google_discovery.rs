//! `google_discovery`: see `executor::fuzzing::google_discovery` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::google_discovery(data));
