//! Where a request's token is found, under generated headers, queries and cookies
//! (`support/checks/token_sources.rs`).

mod props;

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
