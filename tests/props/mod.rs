//! What every property test file shares: how many cases a property runs ([`config`]), a meter
//! of the memory a decoder takes for one input ([`within`]), and generators of odd input
//! ([`gen`]). Each `props_*.rs` includes this module, and so has the meter as its allocator.

#![allow(dead_code)]

pub mod gen;

use proptest::test_runner::Config;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Cases per property in `cargo test`: enough to meet every kind of input the generators make,
/// few enough that the native suite stays quick. `PROPTEST_CASES` overrides it.
pub const CASES: u32 = 256;

pub fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(CASES);
    // A failure is kept as a named regression test, not in a file proptest writes.
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Counts the bytes this thread holds: every test runs on its own thread, so one property's
/// input is measured alone.
struct Meter;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // `try_with`: a thread being torn down has no counters left, and frees all the same.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + bytes;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            count(layout.size() as isize);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            count(layout.size() as isize);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

#[global_allocator]
static METER: Meter = Meter;

/// The most memory a decoder may hold at once for `input` bytes: a small multiple of the input
/// (a parsed JSON value takes several times its text) and a fixed allowance. A declared
/// length or count that drove an allocation before it was checked would blow through it.
pub fn budget(input: usize) -> usize {
    64 * input + 2 * 1024 * 1024
}

/// Runs `f`, failing when it held more than [`budget`]`(input)` bytes at once.
pub fn within<R>(input: usize, f: impl FnOnce() -> R) -> R {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let out = f();
    let peak = (PEAK.with(Cell::get) - start).max(0) as usize;
    assert!(peak <= budget(input), "{peak} bytes held at once for {input} bytes of input");
    out
}

/// The bytes `f` held at once at most.
pub fn peak<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let out = f();
    (out, (PEAK.with(Cell::get) - start).max(0) as usize)
}
