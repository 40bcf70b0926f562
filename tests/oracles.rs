//! Herald's own small readers and writers against the crates they replace in the wasm (to keep
//! it small): an email's `Date` against chrono, a request's query against the `url` crate. Each
//! gives what the crate gave, over many inputs.

use herald_core::exchange::mail;
use herald_core::query;

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

#[test]
fn a_query_parameter_is_what_the_url_crate_read() {
    let queries = [
        "",
        "token=a.b.c",
        "since=5&since=6",
        "a=1&&b=2&",
        "&&",
        "token",
        "token=",
        "=x",
        "cursor=a%2Bb+c%20d",
        "na%6De=v&name=w",
        "q=a=b",
        "q=%zz%4",
        "q=%",
        "q=%4",
        "q=%C3%AB&r=%E2%82%AC",
        "q=%FF%FE",
        "q=caf%C3",
        "EIO=4&transport=polling&t=P1a2b3c&sid=abc-DEF_123",
        "limit=50&order=desc&cursor=eyJzZXEiOjQyfQ",
        "q=ë",
    ];
    let names =
        ["token", "since", "a", "b", "name", "q", "r", "", "cursor", "EIO", "transport", "sid", "limit", "order"];
    for q in queries {
        let url = url::Url::parse(&format!("https://h.example/p?{q}#frag")).unwrap();
        let serialized = url.as_str();
        assert_eq!(query::of(serialized), url.query(), "{q}");
        let query = query::of(serialized).unwrap();
        for name in names {
            let expected = url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
            assert_eq!(query::param(query, name), expected, "{name} in {q}");
        }
    }
    let bare = url::Url::parse("https://h.example/p").unwrap();
    assert_eq!(query::of(bare.as_str()), bare.query());
}
