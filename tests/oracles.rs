//! Herald's own small readers and writers against the crates they replace in the wasm (to keep
//! it small): an email's `Date` against chrono. Each gives what the crate gave, over many inputs.

use herald_core::exchange::mail;

#[test]
fn the_date_header_is_what_chrono_wrote() {
    let chrono = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc2822();
    // Year 0 to year 9999 (chrono writes RFC 2822 for those only), in uneven steps of about
    // 37 days so that every weekday, month, leap year and time of day comes round.
    let (first, last) = (-62_167_219_200_000_i64, 253_402_300_799_999_i64);
    let mut ms = first;
    let mut checked = 0;
    while ms <= last {
        assert_eq!(mail::date(ms), chrono(ms), "{ms}");
        ms += 3_187_678_912;
        checked += 1;
    }
    assert!(checked > 90_000);
    for ms in [first, last, -1, 0, 1, 951_782_399_999, 951_782_400_000, 1_793_610_000_000] {
        assert_eq!(mail::date(ms), chrono(ms), "{ms}");
    }
}
