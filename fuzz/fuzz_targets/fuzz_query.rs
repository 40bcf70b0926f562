//! `herald_tests::checks::targets::query`: what the input is, and the properties checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_tests::checks::targets::query(data));
