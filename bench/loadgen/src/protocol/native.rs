//! Herald's JSON protocol ([docs/protocol.md](../../../../docs/protocol.md)), the subset the
//! generator uses. Subscribers read `message` frames' `data`; the limit room sends the
//! publisher's `publish` frame itself, whose `data` is the same payload.

use super::{payload_json, Inbound, Payload};
use serde::Deserialize;

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    data: Option<Payload>,
    #[serde(borrow)]
    code: Option<&'a str>,
}

pub fn decode(text: &str) -> Inbound {
    // Only the fields above are read; serde skips the rest (the body, `from`, ...) unparsed.
    let Ok(frame) = serde_json::from_str::<Frame>(text) else {
        // A message's `data` that is not our payload, or not JSON at all.
        return Inbound::Other;
    };
    match frame.kind {
        "message" | "publish" => frame.data.map_or(Inbound::Other, Inbound::Message),
        "welcome" => Inbound::Welcome,
        "ack" => Inbound::Ack,
        "pong" => Inbound::Pong,
        "error" => Inbound::Error(frame.code.map_or_else(|| text.to_owned(), str::to_owned)),
        _ => Inbound::Other,
    }
}

/// The exact text the runtime answers by itself (the rooms' `setWebSocketAutoResponse`).
pub const PING: &str = r#"{"type":"ping"}"#;

pub fn publish(seq: u64, ts: u64, body: &str) -> String {
    format!(r#"{{"type":"publish","event":"bench","data":{}}}"#, payload_json(seq, ts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_herald_message_frame_yields_its_data_payload_not_the_room_seq() {
        let frame = r#"{"type":"message","room":"r","seq":43,"id":"k","event":"bench","data":{"seq":7,"ts":1500,"body":"xxxx"},"from":{"id":"a"},"ts":1795302252000}"#;
        assert_eq!(decode(frame), Inbound::Message(Payload { seq: 7, ts: 1500.0 }));
    }

    #[test]
    fn welcome_ack_and_error_frames_are_told_apart() {
        assert_eq!(decode(r#"{"type":"welcome","conn":"c","user":{"id":"u"},"room":"r","seq":0}"#), Inbound::Welcome);
        assert_eq!(decode(r#"{"type":"ack","id":"x","seq":3}"#), Inbound::Ack);
        assert_eq!(
            decode(r#"{"type":"error","code":"rate_limited","message":"slow down"}"#),
            Inbound::Error("rate_limited".into())
        );
        assert_eq!(decode(r#"{"type":"presence","members":[]}"#), Inbound::Other);
    }

    #[test]
    fn the_auto_response_pong_answers_our_ping() {
        assert_eq!(decode(r#"{"type":"pong"}"#), Inbound::Pong);
        assert_eq!(decode(PING), Inbound::Other, "a ping echoed by the limit room is not a pong");
    }

    #[test]
    fn frames_that_are_not_ours_are_other() {
        assert_eq!(decode("not json"), Inbound::Other);
        assert_eq!(decode(r#"{"type":"message","data":{"text":"hi"}}"#), Inbound::Other);
        assert_eq!(decode(r#"{"type":"message"}"#), Inbound::Other);
    }
}
