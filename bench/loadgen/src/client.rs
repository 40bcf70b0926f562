//! The sockets: connecting one (with the protocol's handshake), a subscriber's read loop and
//! the publisher's loop. All share the `Recorder`; none holds its lock across an `.await`.

use crate::protocol::{socketio, Inbound, Protocol};
use crate::recorder::Recorder;
use crate::schedule::Schedule;
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type Shared = Arc<Mutex<Recorder>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the sockets go.
#[derive(Clone)]
pub struct Target {
    pub protocol: Protocol,
    /// The full websocket URL (see `Protocol::url`).
    pub url: String,
    pub room: String,
    pub token: Option<String>,
}

/// Opens a socket and completes the protocol's handshake, joining the room where that takes
/// a frame (Socket.IO; the publisher joins too, as a Socket.IO server relays to the rooms the
/// publisher is in). Answers with the socket and the time it took.
pub async fn connect(target: &Target) -> Result<(Ws, Duration), String> {
    let t0 = Instant::now();
    match tokio::time::timeout(CONNECT_TIMEOUT, handshake(target)).await {
        Ok(Ok(ws)) => Ok((ws, t0.elapsed())),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("no handshake within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

async fn handshake(target: &Target) -> Result<Ws, String> {
    // Nagle off: a benchmark of small frames must not wait for acks to fill segments.
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(target.url.as_str(), None, true).await.map_err(describe)?;
    match target.protocol {
        // Herald (and the JavaScript room) send `welcome` first: the socket is in the room.
        Protocol::Herald => match next_inbound(&mut ws, target.protocol).await? {
            Inbound::Welcome => {}
            other => return Err(format!("first frame is not welcome: {other:?}")),
        },
        // The forwarding room has no handshake: the upgrade puts the socket in the room.
        Protocol::Limit => {}
        Protocol::SocketIo => {
            expect(&mut ws, target.protocol, Inbound::Open).await?;
            send(&mut ws, socketio::connect(target.token.as_deref())).await?;
            expect(&mut ws, target.protocol, Inbound::Connected).await?;
            // With an ack id: the answer says the socket is in the room.
            send(&mut ws, socketio::join(&target.room)).await?;
            expect(&mut ws, target.protocol, Inbound::Ack).await?;
        }
    }
    Ok(ws)
}

/// Waits for `want`, answering pings and skipping other frames; an error frame fails.
async fn expect(ws: &mut Ws, protocol: Protocol, want: Inbound) -> Result<(), String> {
    loop {
        match next_inbound(ws, protocol).await? {
            got if got == want => return Ok(()),
            Inbound::Ping => send(ws, socketio::PONG.to_owned()).await?,
            Inbound::Error(e) => return Err(e),
            _ => {}
        }
    }
}

async fn next_inbound(ws: &mut Ws, protocol: Protocol) -> Result<Inbound, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(protocol.decode(&t)),
            Some(Ok(Message::Close(frame))) => return Err(format!("closed during the handshake: {frame:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(describe(e)),
            None => return Err("the connection ended during the handshake".into()),
        }
    }
}

async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::text(text)).await.map_err(describe)
}

/// A refused upgrade says why (status and body); other errors as they print.
fn describe(e: tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(response) => {
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            format!("upgrade refused: {} {}", response.status(), body)
        }
        e => e.to_string(),
    }
}

/// Subscriber `index`'s read loop: every message goes to the recorder with the instant it was
/// read. Ends when the socket does.
pub async fn subscribe(mut ws: Ws, index: usize, protocol: Protocol, recorder: Shared) {
    let who = || format!("sub {index}");
    while let Some(frame) = ws.next().await {
        let at = Instant::now();
        match frame {
            Ok(Message::Text(t)) => match protocol.decode(&t) {
                Inbound::Message(payload) => recorder.lock().unwrap().deliver(index, payload, at),
                Inbound::Ping => {
                    if let Err(e) = ws.send(Message::text(socketio::PONG)).await {
                        recorder.lock().unwrap().event(who(), "error", describe(e));
                        return;
                    }
                }
                Inbound::Error(e) => recorder.lock().unwrap().event(who(), "error frame", e),
                _ => {}
            },
            Ok(Message::Close(frame)) => {
                recorder.lock().unwrap().event(who(), "close", format!("{frame:?}"));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                recorder.lock().unwrap().event(who(), "error", describe(e));
                return;
            }
        }
    }
    recorder.lock().unwrap().event(who(), "close", "connection ended".into());
}

/// A step for the publisher, and where to say it has sent the step's last message.
pub type Command = (Schedule, oneshot::Sender<Instant>);

/// The publisher's loop: runs each step it is given on its timetable, sends what is due as
/// soon as the timer lets it (a batch if it fell behind), and meanwhile reads its socket
/// (acks, error frames, pings, its own copies of the messages).
pub async fn publish(
    mut ws: Ws,
    protocol: Protocol,
    recorder: Shared,
    body: String,
    mut commands: mpsc::Receiver<Command>,
) {
    let who = || "publisher".to_owned();
    let mut step: Option<(Schedule, u64, oneshot::Sender<Instant>)> = None;
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let next_due = step.as_ref().map_or(far, |(s, i, _)| s.at(*i));
        tokio::select! {
            command = commands.recv(), if step.is_none() => match command {
                Some((schedule, done)) => step = Some((schedule, 0, done)),
                None => return,
            },
            _ = tokio::time::sleep_until(next_due.into()), if step.is_some() => {
                let (schedule, next, _) = step.as_mut().expect("a step is running");
                let due = schedule.due(Instant::now());
                while *next < due {
                    let scheduled = schedule.at(*next);
                    let seq = schedule.first_seq + *next;
                    let ts = recorder.lock().unwrap().ts(scheduled);
                    if let Err(e) = ws.feed(Message::text(protocol.publish(seq, ts, &body))).await {
                        recorder.lock().unwrap().event(who(), "error", describe(e));
                        return;
                    }
                    recorder.lock().unwrap().publisher.sent(scheduled, Instant::now(), protocol.acks());
                    *next += 1;
                }
                if let Err(e) = ws.flush().await {
                    recorder.lock().unwrap().event(who(), "error", describe(e));
                    return;
                }
                if *next == schedule.count {
                    let (_, _, done) = step.take().expect("a step is running");
                    let _ = done.send(Instant::now());
                }
            },
            frame = ws.next() => {
                let at = Instant::now();
                match frame {
                    Some(Ok(Message::Text(t))) => match protocol.decode(&t) {
                        Inbound::Ack => recorder.lock().unwrap().publisher.answered(at, true),
                        Inbound::Error(e) => {
                            let mut r = recorder.lock().unwrap();
                            if protocol.acks() {
                                r.publisher.answered(at, false);
                            }
                            r.event(who(), "error frame", e);
                        }
                        Inbound::Ping => {
                            let _ = ws.send(Message::text(socketio::PONG)).await;
                        }
                        _ => {}
                    },
                    Some(Ok(Message::Close(frame))) => {
                        recorder.lock().unwrap().event(who(), "close", format!("{frame:?}"));
                        return;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        recorder.lock().unwrap().event(who(), "error", describe(e));
                        return;
                    }
                    None => {
                        recorder.lock().unwrap().event(who(), "close", "connection ended".into());
                        return;
                    }
                }
            },
        }
    }
}
