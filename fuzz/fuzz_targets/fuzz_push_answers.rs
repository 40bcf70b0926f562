//! `herald_tests::checks::targets::push_answers`: what the input is, and the properties checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_tests::checks::targets::push_answers(data));
