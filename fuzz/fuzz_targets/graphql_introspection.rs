//! `graphql_introspection`: see `executor::fuzzing::graphql_introspection` for what it drives and the properties it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| executor::fuzzing::graphql_introspection(data));
