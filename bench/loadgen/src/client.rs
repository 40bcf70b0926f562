//! The sockets: connecting one (with the protocol's handshake), a subscriber's read loop and
//! the publisher's loop. All share the `Recorder`; none holds its lock across an `.await`.

use crate::ping::{PingPlan, Pinger};
use crate::protocol::{socketio, Inbound, Protocol};
use crate::recorder::Recorder;
use crate::schedule::Schedule;
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
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

/// Where the idle mode hands every socket its ping plan, once the idle phase begins.
pub type Plans = watch::Receiver<Option<PingPlan>>;

/// A socket's heartbeat: the plan it is handed (through `Plans`, in the idle mode only: the
/// other modes' read loops do not watch one) and the pings it owes and is owed.
pub struct Heartbeat {
    plans: Option<Plans>,
    index: usize,
    sockets: usize,
    ping: Option<&'static str>,
    pinger: Pinger,
}

impl Heartbeat {
    /// No pings.
    pub fn none() -> Self {
        Heartbeat { plans: None, index: 0, sockets: 1, ping: None, pinger: Pinger::default() }
    }

    /// Socket `index` of `sockets` pings by the plans sent on `plans` (if its protocol pings).
    pub fn new(plans: Plans, protocol: Protocol, index: usize, sockets: usize) -> Self {
        let ping = protocol.ping();
        Heartbeat { plans: ping.and(Some(plans)), index, sockets, ping, pinger: Pinger::default() }
    }

    /// Resolves when a new plan arrived and was taken; never, when there is nothing to watch.
    async fn plan_changed(&mut self) {
        let Some(plans) = &mut self.plans else { return std::future::pending().await };
        if plans.changed().await.is_err() {
            self.plans = None; // the run is ending
            return;
        }
        if let Some(plan) = *plans.borrow_and_update() {
            self.pinger.follow(plan.for_socket(self.index, self.sockets));
        }
    }

    /// Sends the ping now due.
    async fn ping(&mut self, ws: &mut Ws, recorder: &Shared) -> Result<(), tungstenite::Error> {
        let Some(ping) = self.ping else { return Ok(()) };
        ws.send(Message::text(ping)).await?;
        self.pinger.sent(Instant::now());
        recorder.lock().unwrap().pings.sent += 1;
        Ok(())
    }

    fn pong(&mut self, at: Instant, recorder: &Shared) {
        if let Some(rtt) = self.pinger.answered(at) {
            recorder.lock().unwrap().pings.answered(rtt);
        }
    }
}

/// Resolves at `t`; never, without one. (Lazy: nothing is set up until it is polled, so a
/// read loop with no pings due pays nothing for it.)
async fn until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Subscriber `index`'s read loop: every message goes to the recorder with the instant it was
/// read; pings go out when its heartbeat says. Ends when the socket does.
pub async fn subscribe(mut ws: Ws, index: usize, protocol: Protocol, recorder: Shared, mut beat: Heartbeat) {
    let who = || format!("sub {index}");
    loop {
        let due = beat.pinger.next_due();
        let frame = tokio::select! {
            frame = ws.next() => frame,
            () = beat.plan_changed() => continue,
            () = until(due) => {
                if let Err(e) = beat.ping(&mut ws, &recorder).await {
                    recorder.lock().unwrap().event(who(), "error", describe(e));
                    return;
                }
                continue;
            }
        };
        let Some(frame) = frame else { break };
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
                Inbound::Pong => beat.pong(at, &recorder),
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
/// (acks, error frames, pings, its own copies of the messages) and pings when its heartbeat says.
pub async fn publish(
    mut ws: Ws,
    protocol: Protocol,
    recorder: Shared,
    body: String,
    mut commands: mpsc::Receiver<Command>,
    mut beat: Heartbeat,
) {
    let who = || "publisher".to_owned();
    let mut step: Option<(Schedule, u64, oneshot::Sender<Instant>)> = None;
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let next_due = step.as_ref().map_or(far, |(s, i, _)| s.at(*i));
        let ping_due = beat.pinger.next_due();
        tokio::select! {
            command = commands.recv(), if step.is_none() => match command {
                Some((schedule, done)) => step = Some((schedule, 0, done)),
                None => return,
            },
            () = beat.plan_changed() => {},
            () = until(ping_due) => {
                if let Err(e) = beat.ping(&mut ws, &recorder).await {
                    recorder.lock().unwrap().event(who(), "error", describe(e));
                    return;
                }
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
                        Inbound::Pong => beat.pong(at, &recorder),
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
