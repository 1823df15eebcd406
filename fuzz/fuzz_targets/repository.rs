//! Fuzz target `repository`: see the input format and the checks in `src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| infinity_orchestrator_fuzz::repository(data));
