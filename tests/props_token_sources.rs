//! Where a request's token is found, under generated headers, queries and cookies
//! (`support/checks/token_sources.rs`).

mod props;

use herald_tests::checks::headers;
use herald_tests::checks::token_sources::{self, Sources};
use props::gen::{odd_string, valid_or_mutated};
use props::{config, within};
use proptest::prelude::*;

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";

fn authorization() -> impl Strategy<Value = String> {
    let valid = prop_oneof![
        Just(format!("Bearer {JWT}")),
        Just(format!("bearer  {JWT} ")),
        Just(format!("token {JWT}")),
        Just("Basic dXNlcjpwdw==".to_owned()),
        Just("Bearer".to_owned()),
        Just("Bearer ".to_owned()),
    ];
    prop_oneof![4 => valid_or_mutated(valid), 1 => odd_string(20)]
}

fn cookie_header() -> impl Strategy<Value = String> {
    let valid = prop_oneof![
        Just(format!("a=1; connect.sid={JWT}; b=2")),
        Just(format!("connect.sid=\"{JWT}\"")),
        Just("connect.sid=".to_owned()),
        Just("xconnect.sid=1;connect.sid = 2".to_owned()),
    ];
    prop_oneof![4 => valid_or_mutated(valid), 1 => odd_string(20)]
}

fn protocols() -> impl Strategy<Value = String> {
    let valid = prop_oneof![
        Just(format!("herald, {JWT}")),
        Just(JWT.to_owned()),
        Just(format!("chat, {JWT}")),
        Just("herald".to_owned()),
        Just(", ,herald,,".to_owned()),
    ];
    prop_oneof![4 => valid_or_mutated(valid), 1 => odd_string(20)]
}

fn sources() -> impl Strategy<Value = Sources> {
    (
        proptest::option::of(authorization()),
        proptest::option::of(prop_oneof![Just(JWT.to_owned()), Just(String::new()), odd_string(10)]),
        proptest::option::of(cookie_header()),
        prop_oneof![Just("connect.sid".to_owned()), odd_string(4)],
        proptest::option::of(protocols()),
    )
        .prop_map(|(authorization, query_token, cookie_header, cookie_name, protocols)| Sources {
            authorization,
            query_token,
            cookie_header,
            cookie_name,
            protocols,
        })
}

/// A cookie's name and value as a browser writes them: no `;`, no `=` in the name, no
/// surrounding spaces, no quotes.
fn cookie_pair() -> impl Strategy<Value = (String, String)> {
    ("[A-Za-z0-9._-]{1,8}", "[A-Za-z0-9._~!#$&'()*+/:<>?@^`{|}=-]{0,12}")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_token_is_found_only_where_it_was_given_in_the_documented_order(sources in sources()) {
        let size = format!("{sources:?}").len();
        within(size, || token_sources::sources(&sources));
    }

    #[test]
    fn a_cookie_header_gives_back_the_first_value_of_each_name(
        pairs in proptest::collection::vec(cookie_pair(), 1..6),
    ) {
        token_sources::cookie_round_trip(&pairs);
    }
}

/// An origin-like string: mostly well formed, some with what an origin never has.
fn origin_text() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![Just("https"), Just("http"), Just("HTTPS"), Just("wss"), Just("app")];
    let host = prop_oneof![
        Just("app.example.com".to_owned()),
        Just("a.b.example.com".to_owned()),
        Just("example.com".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
        "[a-z]{1,6}(\\.[a-z]{1,4}){0,2}",
    ];
    let port = prop_oneof![
        Just(String::new()),
        Just(":443".to_owned()),
        Just(":80".to_owned()),
        (1u32..70_000).prop_map(|p| format!(":{p}"))
    ];
    let well_formed = (scheme, host, port).prop_map(|(s, h, p)| format!("{s}://{h}{p}"));
    prop_oneof![
        6 => well_formed,
        1 => Just("null".to_owned()),
        1 => Just(String::new()),
        1 => valid_or_mutated(Just("https://app.example.com/path".to_owned())),
        1 => odd_string(24),
    ]
}

/// An allow-list: entries like the origins above, wildcards, `*`, separators.
fn origin_list() -> impl Strategy<Value = String> {
    let entry = prop_oneof![
        4 => origin_text(),
        1 => Just("https://*.example.com".to_owned()),
        1 => Just("http://localhost:*".to_owned()),
        1 => Just("*".to_owned()),
    ];
    (proptest::collection::vec(entry, 0..4), prop_oneof![Just(" "), Just(","), Just(", ")])
        .prop_map(|(entries, sep)| entries.join(sep))
}

/// Text shaped like an address: dotted quads, groups with `::`, mapped forms, and noise.
fn address_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u32>().prop_map(|a| std::net::Ipv4Addr::from(a).to_string()),
        any::<u128>().prop_map(|a| std::net::Ipv6Addr::from(a).to_string()),
        any::<u32>().prop_map(|a| format!("::ffff:{}", std::net::Ipv4Addr::from(a))),
        // Every group written out, upper-case, with leading zeros: the long form.
        any::<[u16; 8]>().prop_map(|g| g.iter().map(|x| format!("{x:04X}")).collect::<Vec<_>>().join(":")),
        "[0-9a-fA-F:.]{0,45}",
        "[0-9.]{0,18}",
        odd_string(20),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_cookie_comes_only_from_a_listed_page_and_cors_names_the_page_itself(
        list in origin_list(),
        origin in origin_text(),
        cookie_route in any::<bool>(),
    ) {
        headers::origin(&list, &origin, "https://herald.example", cookie_route);
    }

    #[test]
    fn a_client_address_is_read_as_std_net_reads_it_and_ipv6_counts_by_its_64(raw in address_text()) {
        headers::address(&raw);
    }

    #[test]
    fn an_objects_name_is_learned_once_and_another_refused(
        name in prop_oneof![
            "room:[a-z0-9:_.-]{1,20}",
            "home:[0-9a-f]{16}",
            "directory:[0-9]{1,4}",
            Just("deadletters:main".to_owned()),
            odd_string(20),
        ],
        other in prop_oneof![Just("room:other".to_owned()), Just("home:0123456789abcdef".to_owned()), odd_string(10)],
    ) {
        headers::object_name(&name, &other);
    }
}
