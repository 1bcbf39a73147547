//! `policy_pattern`: see `executor::fuzzing::policy_pattern` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::policy_pattern(data));
