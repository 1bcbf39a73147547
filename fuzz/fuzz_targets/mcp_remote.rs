//! `mcp_remote`: see `executor::fuzzing::mcp_remote` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::mcp_remote(data));
