//! What the Worker reads out of a URL, under generated input: the query and its parameters,
//! routes, percent-encoded path segments, the route table, ids (`support/checks/query.rs`).

mod props;

use herald_tests::checks::query;
use props::gen::{odd_string, valid_or_mutated};
use props::{config, within};
use proptest::prelude::*;

/// A query's text: parameters Herald reads, with escapes good and broken, `+`, `=`, `&`, `#`.
fn query_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("token".to_owned()),
        Just("since".to_owned()),
        Just("EIO".to_owned()),
        Just("%74oken".to_owned()),
        "%[0-9A-Fa-f]{2}",
        "%[0-9A-Za-z+-]{0,2}",
        Just("+".to_owned()),
        Just("=".to_owned()),
        Just("&".to_owned()),
        Just("#".to_owned()),
        Just("?".to_owned()),
        odd_string(4),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![Just("token".to_owned()), Just("since".to_owned()), Just("".to_owned()), odd_string(4)]
}

fn path() -> impl Strategy<Value = String> {
    let valid = prop_oneof![
        Just("/api/v1/ping"),
        Just("/v1/rooms/lobby/ws"),
        Just("/v1/rooms/lobby/messages"),
        Just("/v1/rooms/a:b/presence"),
        Just("/api/chat/bob/"),
        Just("/v1/users/zo%C3%AB/logout"),
        Just("/api/v1/users/bob/contacts"),
        Just("/api/v1/send"),
        Just("/api/v1/native/subscribe"),
        Just("/api/v1/inbox/read"),
        Just("/api/v1/admin/dead-letters"),
        Just("/chat/42/"),
        Just("/workspace/socket.io/"),
    ]
    .prop_map(str::to_owned);
    prop_oneof![4 => valid_or_mutated(valid), 1 => odd_string(30)]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec!["GET", "POST", "PUT", "HEAD", "DELETE", "get", "OPTIONS"])
            .prop_map(str::to_owned),
        odd_string(6),
    ]
}

fn route_table() -> impl Strategy<Value = String> {
    let entry = prop_oneof![
        Just("/socket.io=alert"),
        Just("/socket.io=alert?anonymous=false"),
        Just("/chat=3drepo?cookie=connect.sid"),
        Just("/chat/{user}=tndata"),
        Just("/v1/socket.io=native"),
        Just("/workspace/socket.io=workspace"),
        Just("/x/{user}/y=tndata"),
    ]
    .prop_map(str::to_owned);
    proptest::collection::vec(valid_or_mutated(entry), 0..5).prop_map(|entries| entries.join(","))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_query_parameter_is_what_the_url_crate_reads_whatever_the_url(
        before in "(https?://h\\.example)?/[a-z/]{0,8}",
        query_text in query_text(),
        name in name(),
    ) {
        let url = format!("{before}?{query_text}");
        within(url.len(), || query::query(&url, &name));
        query::query(&before, &name);
    }

    #[test]
    fn parameters_written_by_a_form_encoder_read_back_as_they_were(
        pairs in proptest::collection::vec((odd_string(6), odd_string(12)), 1..5),
    ) {
        query::form_round_trip(&pairs);
    }

    #[test]
    fn any_method_and_path_is_a_route_or_a_documented_refusal(method in method(), path in path()) {
        within(path.len(), || query::route(&method, &path));
    }

    #[test]
    fn a_path_segment_is_decoded_only_when_every_escape_is_whole_and_the_bytes_are_utf8(
        raw in prop_oneof![query_text(), "(%[0-9A-Fa-f+ -]{2}|[a-z])*"],
    ) {
        within(raw.len(), || query::segment(&raw));
    }

    #[test]
    fn ids_are_taken_by_their_rules_and_composed_ids_read_back_as_composed(
        raw in prop_oneof!["[a-z0-9][a-z0-9_.:-]{0,8}", odd_string(12), "[a-z]{120,140}"],
        other in prop_oneof!["[a-z_:]{1,6}", odd_string(8)],
    ) {
        within(raw.len() + other.len(), || query::ids(&raw, &other));
    }

    #[test]
    fn any_route_table_is_read_or_says_what_is_wrong_and_finds_any_path(
        table in route_table(),
        echo in any::<bool>(),
        path in path(),
    ) {
        query::route_table(&table, echo, &path);
    }
}
