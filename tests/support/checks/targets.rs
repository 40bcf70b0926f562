//! The fuzz targets' inputs: how libFuzzer's bytes become inputs for each surface's checks,
//! one function per target (`fuzz/fuzz_targets/` calls them). The native suite runs them too,
//! on every committed seed and corpus input (`tests/fuzz_corpus.rs`), so whatever a fuzzer
//! once found stays checked on stable.
//!
//! The bytes are records separated by `0xFF`, which UTF-8 never holds, so that a seed can be
//! real packets as a client sends them (`fuzz/seeds/`). A record that starts with a byte from
//! `0x01` to `0x08` (or `0x0E`, `0x0F`) is tagged: the byte says what kind of input it is and
//! the rest is its payload; any other record is the target's plain input (a frame, a packet, a
//! body). Each function says what its tags mean.

use super::dialects::{client, tndata_frame, ClientInput};
use super::native::{self, RoomInput, RoomKind};
use super::providers::{self, Reply};
use super::token_sources::{self, Sources};
use super::{auth, engineio, headers, internal, push, query, rest, socketio};
use crate::T0;
use herald_core::dialect::DialectKind;
use herald_core::engineio::session::Transport;
use herald_core::engineio::Payload;

/// At most this many records of one input are used: a script of a few dozen steps reaches
/// every state the stateful targets have, and keeps each run short.
pub const MAX_RECORDS: usize = 64;

/// One record of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    Plain(&'a [u8]),
    Tagged(u8, &'a [u8]),
}

impl<'a> Record<'a> {
    /// The record's bytes, its tag included.
    pub fn bytes(self) -> &'a [u8] {
        match self {
            Record::Plain(bytes) => bytes,
            Record::Tagged(_, payload) => payload,
        }
    }
}

/// Splits `data` into records.
pub fn records(data: &[u8]) -> Vec<Record<'_>> {
    data.split(|&b| b == 0xFF)
        .take(MAX_RECORDS)
        .map(|record| match record.split_first() {
            Some((&tag, rest)) if (0x01..=0x08).contains(&tag) || tag == 0x0E || tag == 0x0F => {
                Record::Tagged(tag, rest)
            }
            _ => Record::Plain(record),
        })
        .collect()
}

/// Every record's whole bytes as text (invalid UTF-8 replaced, as the platform hands a Worker
/// text).
pub fn texts(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == 0xFF).take(MAX_RECORDS).map(text).collect()
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A number out of a record's leading digits (`0` when it has none), for times and sizes.
pub fn number(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0')))
}

/// The byte at `i`, or 0.
pub fn byte(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// The Socket.IO dialects [`dialects`] chooses from.
const KINDS: [DialectKind; 5] =
    [DialectKind::Native, DialectKind::Alert, DialectKind::ThreeDRepo, DialectKind::Workspace, DialectKind::Echo];

/// The native protocol: the first byte chooses a room (`% 3`: shared, tndata conversation,
/// inbox); every record after it is a client frame, a frame from a room (as the dialects read
/// it) and a tndata client frame, then all of them a script for that room.
///
/// Tags: `01` connects connection `payload[0] % 4` (`since` from the digits after it), `02`
/// closes one, `03` a binary frame of that many bytes, `04` time passes (digits, ms). A plain
/// record is a text frame from connection 0 or 1 in turn (both connect first).
pub fn native_frame(data: &[u8]) {
    let Some((&first, data)) = data.split_first() else { return };
    let records = records(data);
    for record in &records {
        let text = text(record.bytes());
        native::frame(&text);
        native::from_room(&text);
        tndata_frame(&text);
    }
    let kind = [RoomKind::Shared, RoomKind::Tndata, RoomKind::Inbox][usize::from(first % 3)];
    let mut inputs = vec![RoomInput::Connect { conn: 0, since: None }, RoomInput::Connect { conn: 1, since: None }];
    for (i, record) in records.iter().enumerate() {
        inputs.push(match *record {
            Record::Tagged(0x01, payload) => {
                let since = (payload.len() > 1).then(|| number(&payload[1..]));
                RoomInput::Connect { conn: byte(payload, 0) % 4, since }
            }
            Record::Tagged(0x02, payload) => RoomInput::Close { conn: byte(payload, 0) % 4 },
            Record::Tagged(0x03, payload) => RoomInput::Binary {
                conn: byte(payload, 0) % 4,
                len: number(payload.get(1..).unwrap_or_default()) as usize,
            },
            Record::Tagged(0x04, payload) => RoomInput::Advance(number(payload).min(u64::from(u32::MAX)) as u32),
            other => RoomInput::Frame { conn: (i % 2) as u8, text: text(other.bytes()) },
        });
    }
    native::room(kind, &inputs);
}

/// Engine.IO: the first byte chooses the transport a session opens with (polling when odd,
/// else websocket); every record after it is a websocket text frame, a binary frame and a
/// polling body, then all of them a script for that session (the `engine-echo` client).
///
/// Tags: `01` a POST of the payload, `02` a GET, `03` a websocket for the session, `04` its
/// websocket closes, `05` time passes (digits, ms), `06` a binary frame. A plain record is a
/// websocket text frame.
pub fn engineio(data: &[u8]) {
    let Some((&first, data)) = data.split_first() else { return };
    let records = records(data);
    for record in &records {
        let text = text(record.bytes());
        engineio::text_frame(&text);
        engineio::payload(&text);
        engineio::binary_frame(record.bytes());
    }
    let transport = if first % 2 == 1 { Transport::Polling } else { Transport::Websocket };
    let inputs: Vec<ClientInput> = records
        .iter()
        .map(|record| match *record {
            Record::Tagged(0x01, payload) => ClientInput::Post(text(payload)),
            Record::Tagged(0x02, _) => ClientInput::Poll,
            Record::Tagged(0x03, _) => ClientInput::Upgrade,
            Record::Tagged(0x04, _) => ClientInput::SocketClosed,
            Record::Tagged(0x05, payload) => ClientInput::Tick(number(payload).min(u64::from(u32::MAX)) as u32),
            Record::Tagged(0x06, payload) => ClientInput::Binary(payload.to_vec()),
            other => ClientInput::Frame(text(other.bytes())),
        })
        .collect();
    client(DialectKind::EngineEcho, transport, false, &inputs);
}

/// Socket.IO: the records as Engine.IO messages into one decoder (packets that complete are
/// re-encoded and read back) and into one connection.
///
/// Tags: `01` a binary message (an attachment). A plain record is a text message: a packet
/// without the Engine.IO `4`.
pub fn socketio(data: &[u8]) {
    let messages: Vec<Payload> = records(data)
        .into_iter()
        .map(|record| match record {
            Record::Tagged(0x01, payload) => Payload::Binary(payload.to_vec()),
            other => Payload::Text(text(other.bytes())),
        })
        .collect();
    socketio::messages(&messages);
    socketio::connection(&messages);
}

/// Every Socket.IO dialect: the first byte chooses the dialect (`% 5`: native, alert, 3drepo,
/// workspace, echo), the polling transport when odd, an anonymous route with bit `02`, admin
/// logins with bit `04`; the records after it are a script of what a client and its rooms
/// send. Every record is also a tndata client frame.
///
/// Tags: `01` a CONNECT with a valid token for the user the payload names, `02` a frame from a
/// room the client joined (payload: the frame), `03` that room's welcome, `04` a message in it
/// (payload: its data, JSON or text), `05` it ends the membership, `06` it cannot be reached,
/// `07` time passes (digits, ms), `08` a binary frame, `0E` an Engine.IO frame as it is, `0F`
/// a polling POST. A plain record is a Socket.IO packet (its text without the Engine.IO `4`);
/// `$TOKEN` in it stands for a valid token.
pub fn dialects(data: &[u8]) {
    let Some((&first, data)) = data.split_first() else { return };
    let kind = KINDS[usize::from(first % 5)];
    let transport = if first % 2 == 1 { Transport::Polling } else { Transport::Websocket };
    let records = records(data);
    let room = |payload: &[u8]| byte(payload, 0);
    let inputs: Vec<ClientInput> = records
        .iter()
        .map(|record| match *record {
            Record::Tagged(0x01, payload) => ClientInput::Login { sub: text(payload), admin: first & 0x04 != 0 },
            Record::Tagged(0x02, payload) => ClientInput::RoomFrame { room: 0, text: text(payload) },
            Record::Tagged(0x03, payload) => ClientInput::RoomWelcome { room: room(payload) },
            Record::Tagged(0x04, payload) => ClientInput::RoomMessage {
                room: 0,
                event: "message".into(),
                data: serde_json::from_slice(payload).unwrap_or_else(|_| text(payload).into()),
            },
            Record::Tagged(0x05, payload) => ClientInput::RoomClosed(room(payload)),
            Record::Tagged(0x06, payload) => ClientInput::RoomFailed(room(payload)),
            Record::Tagged(0x07, payload) => ClientInput::Tick(number(payload).min(u64::from(u32::MAX)) as u32),
            Record::Tagged(0x08, payload) => ClientInput::Binary(payload.to_vec()),
            Record::Tagged(0x0E, payload) => ClientInput::Frame(text(payload)),
            Record::Tagged(0x0F, payload) => ClientInput::Post(text(payload)),
            other => ClientInput::Packet(text(other.bytes())),
        })
        .collect();
    client(kind, transport, first & 0x02 != 0, &inputs);
    for record in &records {
        tndata_frame(&text(record.bytes()));
    }
}

/// Tokens: every record as a token's text and as a JWK set; each pair of records as a header
/// and claims signed with the right key, and as a room pattern and a room.
pub fn jws(data: &[u8]) {
    let records: Vec<&[u8]> = data.split(|&b| b == 0xFF).take(MAX_RECORDS).collect();
    for record in &records {
        let text = text(record);
        auth::token(&text, T0);
        auth::jwks(&text);
    }
    for pair in records.windows(2) {
        auth::signed(pair[0], pair[1]);
        auth::pattern(&text(pair[0]), &text(pair[1]));
    }
}

/// URLs: each record as a URL (its query and a parameter named by the next record), a path
/// segment, a route table, an id (with the next record as another); each pair as a method and
/// a path, and as parameters to write and read back.
pub fn query(data: &[u8]) {
    let texts = texts(data);
    let next = |i: usize| texts.get(i + 1).map(String::as_str).unwrap_or("token");
    for (i, text) in texts.iter().enumerate() {
        query::query(text, next(i));
        query::segment(text);
        query::route(next(i), text);
        query::route_table(text, i % 2 == 1, next(i));
        query::ids(text, next(i));
    }
    let pairs: Vec<(String, String)> =
        texts.chunks(2).map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default())).collect();
    query::form_round_trip(&pairs);
}

/// Where a token is found, and the other headers: the records are the `Authorization` header,
/// the `token` query parameter, the `Cookie` header, the route's cookie name,
/// `Sec-WebSocket-Protocol`, an `ALLOWED_ORIGINS` list and an `Origin`, in that order (an empty
/// record is an absent part); a `Cookie` header written from the record pairs that are plain
/// cookies gives back their values; every record is also read as a client address and as an
/// object's name.
pub fn token_sources(data: &[u8]) {
    let texts = texts(data);
    let part = |i: usize| texts.get(i).filter(|t| !t.is_empty()).cloned();
    token_sources::sources(&Sources {
        authorization: part(0),
        query_token: part(1),
        cookie_header: part(2),
        cookie_name: part(3).unwrap_or_else(|| "connect.sid".into()),
        protocols: part(4),
    });
    let plain_name = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let plain_value = |v: &str| v.bytes().all(|b| b.is_ascii_graphic() && !b";\",\\".contains(&b));
    let pairs: Vec<(String, String)> = texts
        .chunks(2)
        .filter(|p| p.len() == 2 && plain_name(&p[0]) && plain_value(&p[1]))
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    token_sources::cookie_round_trip(&pairs);
    // The other headers, from the same records: an allow-list and a page's origin, a client
    // address, an object's name.
    let own = "https://herald.example";
    headers::origin(&part(5).unwrap_or_default(), &part(6).unwrap_or_default(), own, byte(data, 0).is_multiple_of(2));
    for text in &texts {
        headers::address(text);
        headers::object_name(text, texts.first().map_or("", String::as_str));
    }
}

/// REST bodies and page queries: each record as a body (with the next record as the
/// `Idempotency-Key` header, when there is one), and the first three records as page query
/// parameters (an absent one past the end).
pub fn rest_bodies(data: &[u8]) {
    let texts = texts(data);
    for (i, body) in texts.iter().enumerate() {
        rest::body(body, texts.get(i + 1).map(|key| rest::header_key(key)));
    }
    let param = |i: usize| texts.get(i).map(String::as_str);
    rest::page(param(0), param(1), param(2));
}

/// The fallback's providers: the first record is a queue message's body, the records after
/// it the replies to what the attempt asks (over the email API, or the binding when the
/// input's length is odd; the delivery number from the length too), and each reply a provider
/// answer judged on its own; the first records also make an email for the binding.
///
/// Reply tags: `01` the inbox's claim (`go` when the payload's first byte is odd; a claim
/// number and a lease end from the digits after it), `02` a failed call, `03` a call that
/// succeeded. A plain record is a provider's answer: its status in leading digits, then its
/// body.
pub fn provider_answers(data: &[u8]) {
    let records = records(data);
    let Some((body, rest)) = records.split_first() else { return };
    let replies: Vec<Reply> = rest
        .iter()
        .map(|record| match *record {
            Record::Tagged(0x01, payload) => {
                let n = number(payload.get(1..).unwrap_or_default());
                Reply::Claim {
                    go: byte(payload, 0) % 2 == 1,
                    claim: Some(n),
                    held_until_ms: (n > 0).then(|| T0.saturating_add(i64::try_from(n).unwrap_or(i64::MAX))),
                }
            }
            Record::Tagged(0x02, _) => Reply::Failed,
            Record::Tagged(0x03, _) => Reply::Done,
            other => {
                let bytes = other.bytes();
                let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
                let status = number(bytes).min(u64::from(u16::MAX)) as u16;
                let answer = text(&bytes[digits..]);
                providers::answer(status, &answer);
                Reply::Provider(status, answer)
            }
        })
        .collect();
    let attempts = (data.len() % 7) as u32;
    providers::attempt(&text(body.bytes()), attempts, data.len() % 2 == 1, &replies);
    let part = |i: usize| records.get(i).map(|r| text(r.bytes())).unwrap_or_default();
    providers::mail(&part(1), &part(2), &part(3), &part(0), T0 + data.len() as i64 * 86_400_000);
}

/// Native push: each record an answer judged by each provider, or a notification built for
/// each provider.
///
/// Tags: `01` sets the `Retry-After` value of the answers after it (its payload as text; an
/// empty payload, none); `02` is a notification: its payload split at `0x00` into title, body,
/// url, data (JSON; left out when not), id and receipt, the first byte's low bits choosing the
/// urgency. A plain record is an answer: its leading digits the status, the rest the body.
pub fn push_answers(data: &[u8]) {
    use herald_core::exchange::push::answers::Provider;
    use herald_core::exchange::Urgency;
    let mut retry_after: Option<String> = None;
    for record in records(data) {
        match record {
            Record::Tagged(0x01, payload) => {
                retry_after = (!payload.is_empty()).then(|| text(payload));
                if let Some(value) = &retry_after {
                    push::retry_after(value, T0);
                }
            }
            Record::Tagged(0x02, payload) => {
                let parts: Vec<String> = payload.split(|&b| b == 0).map(text).collect();
                let part = |i: usize| parts.get(i).cloned().unwrap_or_default();
                let fields = push::Fields {
                    title: parts.first().filter(|t| !t.is_empty()).cloned(),
                    body: part(1),
                    url: parts.get(2).filter(|u| !u.is_empty()).cloned(),
                    data: serde_json::from_str(&part(3)).ok(),
                    id: part(4),
                    receipt: part(5),
                };
                let urgency = Urgency::ALL[usize::from(byte(payload, 0) % 4)];
                push::payloads(&fields, payload.len() as u64, u32::from(byte(payload, 1)) * 3600, urgency);
            }
            other => {
                let bytes = other.bytes();
                let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
                let status = number(bytes).min(u64::from(u16::MAX)) as u16;
                let body = text(&bytes[digits..]);
                for provider in Provider::ALL {
                    push::answer(provider, status, retry_after.as_deref(), &body, T0);
                }
            }
        }
    }
}

/// The internal wire types: each record read as each of them (successes written and read back).
pub fn internal(data: &[u8]) {
    for text in texts(data) {
        internal::wire(&text);
    }
}

/// `fuzz_receipts`: each record is a receipt credential, then a receipts body. A credential
/// Herald did not issue is never taken: any input is refused with `receipt_invalid` (or
/// `receipt_expired` for a real one whose time passed); a real credential, changed in any one
/// byte, is refused too; a body is parsed or refused with a coded error, never a panic.
pub fn receipts(data: &[u8]) {
    use herald_core::error::ErrorCode;
    use herald_core::exchange::push::receipts::{issue, parse_request, verify};
    use herald_core::ids::UserId;
    const SECRET: &[u8] = b"the fuzz target's receipt secret, 32+";
    for record in texts(data) {
        if let Ok(receipt) = verify(SECRET, &record, T0) {
            // Only a credential made with the secret verifies: this one must be such.
            assert_eq!(issue(SECRET, &receipt.user, receipt.seq, receipt.expires_at), record, "forged: {record:?}");
        }
        if let Err(e) = parse_request(&record) {
            assert!(matches!(e.code, ErrorCode::MalformedJson | ErrorCode::InvalidField), "{e:?}");
        }
        if let Ok(user) = UserId::parse(&record) {
            let real = issue(SECRET, &user, number(record.as_bytes()), T0 + 1);
            assert_eq!(verify(SECRET, &real, T0).map(|r| r.user), Ok(user), "{real}");
            assert_eq!(verify(SECRET, &real, T0 + 1).unwrap_err().code, ErrorCode::ReceiptExpired);
            let mut changed = real.clone().into_bytes();
            let at = data.len() % changed.len();
            changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
            if let Ok(changed) = String::from_utf8(changed) {
                assert!(verify(SECRET, &changed, T0).is_err(), "changed at {at}: {changed}");
            }
        }
    }
}
