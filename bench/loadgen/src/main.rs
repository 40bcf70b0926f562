//! Herald's benchmark load generator. One process owns the publisher and every subscriber, so
//! one monotonic clock measures publish → receive.
//!
//! How a run flows: `main` parses the arguments and starts a Tokio runtime (one thread unless
//! `--threads`); `run` connects the subscribers with bounded concurrency (`client::connect`,
//! per `protocol`), spawns a read loop for each (`client::subscribe`) and the publisher
//! (`client::publish`), then for each rate opens a step (`schedule`: message i due at
//! start + i/rate), lets the publisher send it, drains, and closes the step: the `recorder`
//! holds the latency histogram and each subscriber's `accounting` (loss, duplicates, order),
//! `cpu` says whether the generator itself was the bottleneck, and `report` writes the JSON
//! and the table. `--connections-only N[,M…]` connects idle subscribers in steps up to each
//! count and holds them instead (`ramp`); `--idle-seconds S` times one message before and one
//! after S seconds of quiet in which every socket only pings (`idle`, `ping`).

mod accounting;
mod client;
mod cpu;
mod idle;
mod ping;
mod protocol;
mod ramp;
mod recorder;
mod report;
mod run;
mod schedule;

use clap::Parser;
use protocol::Protocol;
use std::path::PathBuf;

/// One room, one publisher, N subscribers; rising open-loop rates until p99 or loss says stop
/// (or: idle connections in steps; or: one message before and after an idle wait).
#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen", version)]
pub struct Args {
    /// How to speak to the server.
    #[arg(long, value_enum)]
    pub protocol: Protocol,
    /// The server's base websocket URL, e.g. ws://127.0.0.1:8787.
    #[arg(long)]
    pub url: String,
    /// The room (a fresh one per run is best).
    #[arg(long, default_value = "bench")]
    pub room: String,
    /// A token: `?token=` for herald and limit, Socket.IO's connect auth `{token}`.
    #[arg(long)]
    pub token: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// Publishes per second, one step each, in order (each delivered to every subscriber).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    pub rates: Vec<f64>,
    #[arg(long, default_value_t = 5.0)]
    pub step_seconds: f64,
    /// A step at the first rate before the measured ones, reported apart (0: none).
    #[arg(long, default_value_t = 1.0)]
    pub warmup_seconds: f64,
    /// Stop raising the rate after a step with a p99 over this (or with any loss).
    #[arg(long, default_value_t = 250.0)]
    pub stop_p99_ms: f64,
    /// Where to write the JSON report.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Only open idle subscribers, in steps up to each count in turn (`1000,2000,5000`; one
    /// count is one step), holding each step `--hold-seconds`; stops at the first step with a
    /// failed connection, a dropped one, or over `--ramp-step-max-seconds`.
    #[arg(long, value_delimiter = ',')]
    pub connections_only: Option<Vec<usize>>,
    #[arg(long, default_value_t = 10.0)]
    pub hold_seconds: f64,
    /// A ramp step still connecting after this long starts no more connections, and ends the ramp.
    #[arg(long, default_value_t = 60.0)]
    pub ramp_step_max_seconds: f64,
    /// The idle mode: after a warm message, every socket stays quiet but for its pings for this
    /// long, then one more message is timed (the first after idle).
    #[arg(long)]
    pub idle_seconds: Option<f64>,
    /// The idle mode's heartbeat: each socket sends the protocol's ping this often.
    #[arg(long, default_value_t = 5.0)]
    pub ping_every: f64,
    /// Connections opened at a time.
    #[arg(long, default_value_t = 50)]
    pub connect_concurrency: usize,
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// The Engine.IO path (Herald's own Socket.IO dialect is at /v1/socket.io/).
    #[arg(long, default_value = "/socket.io/")]
    pub socketio_path: String,
    /// After a step's last send, wait for deliveries until none came for this long...
    #[arg(long, default_value_t = 3.0)]
    pub drain_quiet_seconds: f64,
    /// ...or at most this long.
    #[arg(long, default_value_t = 20.0)]
    pub drain_max_seconds: f64,
    /// Runtime worker threads (1: a single-threaded runtime, meant for one pinned core).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = validate(&args) {
        eprintln!("loadgen: {e}");
        std::process::exit(2);
    }
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    }
    .expect("a Tokio runtime");
    let code = runtime.block_on(run::main(args));
    // Leave without waiting for the sockets' tasks: the report is written.
    std::process::exit(code);
}

fn validate(a: &Args) -> Result<(), String> {
    if !a.url.starts_with("ws://") {
        return Err(format!("--url must be ws://host:port (no TLS in benchmarks): {}", a.url));
    }
    if a.rates.is_empty() || !a.rates.iter().all(|r| positive(*r)) {
        return Err("--rates must be positive numbers".into());
    }
    if !positive(a.step_seconds)
        || !(positive(a.warmup_seconds) || a.warmup_seconds == 0.0)
        || !(positive(a.hold_seconds) || a.hold_seconds == 0.0)
    {
        return Err("--step-seconds must be positive, --warmup-seconds and --hold-seconds not negative".into());
    }
    if a.subscribers == 0 && a.connections_only.is_none() {
        return Err("--subscribers must be at least 1".into());
    }
    if let Some(counts) = &a.connections_only {
        if counts.is_empty() || counts[0] == 0 || !counts.windows(2).all(|w| w[0] < w[1]) {
            return Err("--connections-only: counts rising from at least 1, e.g. 1000,2000,5000".into());
        }
        if !positive(a.ramp_step_max_seconds) {
            return Err("--ramp-step-max-seconds must be positive".into());
        }
    }
    if let Some(idle) = a.idle_seconds {
        if a.connections_only.is_some() {
            return Err("--idle-seconds and --connections-only are two modes: one at a time".into());
        }
        if !positive(idle) || !positive(a.ping_every) {
            return Err("--idle-seconds and --ping-every must be positive".into());
        }
    }
    if a.connect_concurrency == 0 {
        return Err("--connect-concurrency must be at least 1".into());
    }
    if !a.room.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c)) || a.room.is_empty() {
        return Err(format!("--room: letters, digits and _-.: only: {}", a.room));
    }
    Ok(())
}

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}
