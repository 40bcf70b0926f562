//! The run's report: JSON (its schema is documented in bench/README.md, "The load generator's
//! report") and a short table on stdout. Times are in milliseconds, rates per second.

use crate::accounting::StepCounts;
use crate::recorder::round;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

#[derive(Serialize)]
pub struct Report {
    /// `steps` (fan-out at rising rates), `connections` (`--connections-only`) or `idle`
    /// (`--idle-seconds`).
    pub mode: &'static str,
    pub protocol: crate::protocol::Protocol,
    pub url: String,
    pub room: String,
    /// Unix time in ms when the run started.
    pub started_at_ms: u64,
    pub settings: serde_json::Value,
    pub connect: ConnectReport,
    /// The warm-up step, not part of the results (`null` without one).
    pub warmup: Option<StepReport>,
    pub steps: Vec<StepReport>,
    /// Why the rates stopped rising before the last (`null` if every rate ran).
    pub stopped_because: Option<String>,
    /// `--connections-only`: subscribers whose socket closed or failed while held.
    pub dropped_while_held: Option<u64>,
    /// `--connections-only`: one entry per step of the ramp (empty in the other modes).
    pub ramp: Vec<RampStep>,
    /// `--idle-seconds`: the message before and the one after the idle wait, and the pings.
    pub idle: Option<IdleReport>,
    /// Closes, error frames and disconnects seen during the run (at most 200).
    pub events: Vec<Event>,
    pub events_dropped: u64,
}

#[derive(Serialize, Default)]
pub struct ConnectReport {
    pub attempted: u64,
    pub connected: u64,
    pub failed: u64,
    /// The first failures' messages.
    pub failures: Vec<String>,
    pub concurrency: usize,
    /// Wall time to connect them all.
    pub seconds: f64,
    /// Per connection: websocket upgrade until the protocol's "ready" (Herald's `welcome`,
    /// Socket.IO's namespace connect, the upgrade itself for the limit room).
    pub ms: Quantiles,
}

#[derive(Serialize, Debug)]
pub struct StepReport {
    pub offered_per_s: f64,
    pub offered_deliveries_per_s: f64,
    pub seconds: f64,
    pub sent: u64,
    #[serde(flatten)]
    pub counts: StepCounts,
    pub delivered_per_s: f64,
    pub latency_ms: Quantiles,
    pub send_lag_ms: Quantiles,
    pub acks: u64,
    pub ack_ms: Quantiles,
    pub publish_errors: u64,
    pub generator_cpu: f64,
    pub generator_bound: bool,
}

/// One step of the connection ramp: the connections it added, and what is held after it.
#[derive(Serialize, Debug)]
pub struct RampStep {
    /// The count this step connects up to.
    pub target: u64,
    /// Connections open once the step is done (all steps so far, less those dropped).
    pub held: u64,
    /// This step's own: connections tried, failed (first 3 messages), its wall time, and the
    /// connect time of each.
    pub attempted: u64,
    pub failed: u64,
    pub failures: Vec<String>,
    pub seconds: f64,
    pub ms: Quantiles,
    /// Sockets closed so far, this step's hold included.
    pub dropped: u64,
}

/// The idle mode: a warm message, the idle wait with its pings, the first message after it.
#[derive(Serialize, Debug)]
pub struct IdleReport {
    pub seconds: f64,
    pub ping_every_seconds: f64,
    /// The message timed before the idle wait, the room awake (a step of one message).
    pub warm: StepReport,
    /// The first message after the idle wait (a step of one message).
    pub after_idle: StepReport,
    /// Pings sent during the wait, pongs matched to them, their round trip.
    pub pings_sent: u64,
    pub pongs: u64,
    pub pong_ms: Quantiles,
    /// Sockets (subscribers and the publisher) that closed during the wait: a hibernating
    /// room keeps them all open.
    pub closed_during_idle: u64,
}

#[derive(Serialize, Debug, Default)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

impl Quantiles {
    /// Quantiles of a histogram of µs, in ms (`null` when it is empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Quantiles::default();
        }
        let ms = |us: u64| Some(round(us as f64 / 1e3, 2));
        Quantiles {
            p50: ms(h.value_at_quantile(0.5)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

#[derive(Serialize, Debug)]
pub struct Event {
    /// Since the generator started.
    pub at_ms: f64,
    /// `sub N` or `publisher`.
    pub who: String,
    pub kind: String,
    pub detail: String,
}

pub fn write_json(report: &Report, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::File::create(path)?;
    serde_json::to_writer_pretty(&mut file, report)?;
    file.write_all(b"\n")
}

const COLUMNS: &str =
    "  offered/s  deliv/s(offered)    delivered/s     p50 ms     p99 ms   p99.9 ms   loss  dup  order  lag p99  cpu";

pub fn header() -> &'static str {
    COLUMNS
}

/// A figure with one decimal, or `-` when there is none.
fn f(q: Option<f64>) -> String {
    q.map_or("-".to_owned(), |v| format!("{v:.1}"))
}

pub fn row(s: &StepReport) -> String {
    format!(
        "{:>11} {:>16} {:>14} {:>10} {:>10} {:>10} {:>6} {:>4} {:>6} {:>8} {:>4}{}",
        s.offered_per_s,
        s.offered_deliveries_per_s,
        s.delivered_per_s,
        f(s.latency_ms.p50),
        f(s.latency_ms.p99),
        f(s.latency_ms.p999),
        s.counts.loss,
        s.counts.duplicates,
        s.counts.order_violations,
        f(s.send_lag_ms.p99),
        format!("{:.0}%", s.generator_cpu * 100.0),
        if s.generator_bound { "  generator-bound" } else { "" },
    )
}

pub fn connect_line(c: &ConnectReport) -> String {
    format!(
        "connected {}/{} in {:.2} s (concurrency {}): p50 {} ms, p99 {} ms, max {} ms{}",
        c.connected,
        c.attempted,
        c.seconds,
        c.concurrency,
        f(c.ms.p50),
        f(c.ms.p99),
        f(c.ms.max),
        if c.failed > 0 {
            format!(", {} failed: {}", c.failed, c.failures.first().map_or("", String::as_str))
        } else {
            String::new()
        },
    )
}

pub fn ramp_line(s: &RampStep) -> String {
    format!(
        "ramp to {}: {} held; this step {} tried in {:.2} s, p50 {} ms, p99 {} ms, max {} ms, {} failed, {} dropped so far{}",
        s.target,
        s.held,
        s.attempted,
        s.seconds,
        f(s.ms.p50),
        f(s.ms.p99),
        f(s.ms.max),
        s.failed,
        s.dropped,
        s.failures.first().map_or(String::new(), |e| format!(": {e}")),
    )
}

pub fn idle_lines(i: &IdleReport) -> String {
    let message = |what: &str, s: &StepReport| {
        format!(
            "{what}: {}/{} delivered, p50 {} ms, p99 {} ms, max {} ms, ack {} ms",
            s.counts.received,
            s.counts.expected,
            f(s.latency_ms.p50),
            f(s.latency_ms.p99),
            f(s.latency_ms.max),
            f(s.ack_ms.max),
        )
    };
    format!(
        "{}\nidle {} s, a ping every {} s: {} pings, {} pongs (p99 {} ms), {} sockets closed\n{}",
        message("warm message", &i.warm),
        i.seconds,
        i.ping_every_seconds,
        i.pings_sent,
        i.pongs,
        f(i.pong_ms.p99),
        i.closed_during_idle,
        message("first after idle", &i.after_idle),
    )
}
