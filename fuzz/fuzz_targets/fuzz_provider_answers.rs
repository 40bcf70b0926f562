//! `herald_tests::checks::targets::provider_answers`: what the input is, and the properties checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_tests::checks::targets::provider_answers(data));
