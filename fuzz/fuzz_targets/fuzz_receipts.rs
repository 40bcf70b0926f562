//! `herald_tests::checks::targets::receipts`: what the input is, and the properties checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_tests::checks::targets::receipts(data));
