//! The three modes: rising rates (`steps`, here), idle connections in steps (`ramp`) and one
//! message before and after an idle wait (`idle`); and what they share: connecting the
//! subscribers, running one step, draining it.

use crate::client::{self, Command, Heartbeat, Plans, Shared, Target};
use crate::cpu;
use crate::recorder::{self, round, Recorder};
use crate::report::{self, ConnectReport, Quantiles, Report, StepReport};
use crate::schedule::Schedule;
use crate::Args;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A step's first message is due this long after the step is opened.
const STEP_LEAD: Duration = Duration::from_millis(50);
/// Between steps, and after connecting (presence and joined frames settle).
pub const PAUSE: Duration = Duration::from_millis(1000);

pub async fn main(args: Args) -> i32 {
    let fd_limit = cpu::raise_fd_limit();
    let target = Target {
        protocol: args.protocol,
        url: args.protocol.url(&args.url, &args.room, args.token.as_deref(), &args.socketio_path),
        room: args.room.clone(),
        token: args.token.clone(),
    };
    let started_at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let n = args.connections_only.as_ref().and_then(|c| c.last().copied()).unwrap_or(args.subscribers);
    let recorder: Shared = Arc::new(Mutex::new(Recorder::new(Instant::now(), n)));
    eprintln!(
        "loadgen: {} {} room {}, {} subscribers (fd limit {})",
        args.protocol,
        args.url,
        args.room,
        n,
        fd_limit.map_or("?".into(), |l| l.to_string())
    );
    let mut report = Report {
        mode: if args.connections_only.is_some() {
            "connections"
        } else if args.idle_seconds.is_some() {
            "idle"
        } else {
            "steps"
        },
        protocol: args.protocol,
        url: args.url.clone(),
        room: args.room.clone(),
        started_at_ms,
        settings: settings(&args),
        connect: ConnectReport::default(),
        warmup: None,
        steps: Vec::new(),
        stopped_because: None,
        dropped_while_held: None,
        ramp: Vec::new(),
        idle: None,
        events: Vec::new(),
        events_dropped: 0,
    };

    let (mut code, tasks) = match report.mode {
        "connections" => crate::ramp::run(&args, &target, &recorder, &mut report).await,
        "idle" => crate::idle::run(&args, &target, &recorder, &mut report).await,
        _ => {
            let (connect, tasks, _) = connect_all(&target, 0..n, &args, &recorder, None, None).await;
            eprintln!("{}", report::connect_line(&connect));
            report.connect = connect;
            let code = if report.connect.failed > 0 {
                report.stopped_because = Some(format!("{} subscribers failed to connect", report.connect.failed));
                1
            } else if let Err(e) = steps(&args, &target, &recorder, &mut report).await {
                eprintln!("loadgen: {e}");
                report.stopped_because = Some(e);
                1
            } else {
                0
            };
            (code, tasks)
        }
    };

    {
        let mut r = recorder.lock().unwrap();
        r.closing = true;
        (report.events, report.events_dropped) = r.take_events();
    }
    for task in tasks {
        task.abort();
    }
    print_table(&args, &report);
    if let Some(path) = &args.json {
        if let Err(e) = report::write_json(&report, path) {
            eprintln!("loadgen: cannot write {}: {e}", path.display());
            code = 1;
        }
    }
    code
}

/// Connects subscribers `indices`, `--connect-concurrency` at a time, each read loop started
/// as soon as its socket is ready (pinging by the plans of `plans`, of `indices.end + 1`
/// sockets, if given). Starts no more connections after `deadline`. Answers with the report,
/// the read loops and the connect times.
pub async fn connect_all(
    target: &Target,
    indices: Range<usize>,
    args: &Args,
    recorder: &Shared,
    plans: Option<&Plans>,
    deadline: Option<Instant>,
) -> (ConnectReport, Vec<JoinHandle<()>>, Histogram<u64>) {
    let t0 = Instant::now();
    let sockets = indices.end + 1; // the publisher too
    let mut times = recorder::histogram();
    let mut tasks = Vec::with_capacity(indices.len());
    let mut failures = Vec::new();
    let (mut attempted, mut failed) = (0, 0);
    let mut attempts = futures_util::stream::iter(indices)
        .take_while(|_| std::future::ready(deadline.is_none_or(|d| Instant::now() < d)))
        .map(|i| async move { (i, client::connect(target).await) })
        .buffer_unordered(args.connect_concurrency);
    while let Some((i, result)) = attempts.next().await {
        attempted += 1;
        match result {
            Ok((ws, took)) => {
                times.saturating_record(recorder::micros(took));
                let beat =
                    plans.map_or_else(Heartbeat::none, |p| Heartbeat::new(p.clone(), target.protocol, i, sockets));
                tasks.push(tokio::spawn(client::subscribe(ws, i, target.protocol, recorder.clone(), beat)));
            }
            Err(e) => {
                failed += 1;
                if failures.len() < 5 {
                    failures.push(e);
                }
            }
        }
    }
    let report = ConnectReport {
        attempted,
        connected: tasks.len() as u64,
        failed,
        failures,
        concurrency: args.connect_concurrency,
        seconds: round(t0.elapsed().as_secs_f64(), 3),
        ms: Quantiles::of(&times),
    };
    (report, tasks, times)
}

/// The warm-up, then each rate in turn until one breaks the p99 threshold or loses messages.
async fn steps(args: &Args, target: &Target, recorder: &Shared, report: &mut Report) -> Result<(), String> {
    let (publisher, commands) = start_publisher(args, target, recorder, Heartbeat::none()).await?;
    tokio::time::sleep(PAUSE).await;

    let mut next_seq = 1;
    if args.warmup_seconds > 0.0 {
        let warmup = step(args, recorder, &commands, args.rates[0], args.warmup_seconds, &mut next_seq).await?;
        eprintln!("warm-up (not a result):\n{}\n{}", report::header(), report::row(&warmup));
        report.warmup = Some(warmup);
        tokio::time::sleep(PAUSE).await;
    }
    eprintln!("{}", report::header());
    for &rate in &args.rates {
        let s = step(args, recorder, &commands, rate, args.step_seconds, &mut next_seq).await?;
        eprintln!("{}", report::row(&s));
        let p99 = s.latency_ms.p99.unwrap_or(f64::INFINITY);
        let stop = if s.counts.loss > 0 {
            Some(format!("loss of {} at {rate}/s", s.counts.loss))
        } else if p99 > args.stop_p99_ms {
            Some(format!("p99 {p99} ms over {} ms at {rate}/s", args.stop_p99_ms))
        } else {
            None
        };
        report.steps.push(s);
        if stop.is_some() {
            report.stopped_because = stop;
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    publisher.abort();
    Ok(())
}

/// Connects the publisher and starts its loop; answers with its task and where to send it steps.
pub async fn start_publisher(
    args: &Args,
    target: &Target,
    recorder: &Shared,
    beat: Heartbeat,
) -> Result<(JoinHandle<()>, mpsc::Sender<Command>), String> {
    let (ws, _) = client::connect(target).await.map_err(|e| format!("the publisher could not connect: {e}"))?;
    let (commands, rx) = mpsc::channel::<Command>(1);
    let body = "x".repeat(args.body_bytes);
    Ok((tokio::spawn(client::publish(ws, target.protocol, recorder.clone(), body, rx, beat)), commands))
}

/// One step: open it, have the publisher send it, drain, close it.
pub async fn step(
    args: &Args,
    recorder: &Shared,
    commands: &mpsc::Sender<Command>,
    rate: f64,
    seconds: f64,
    next_seq: &mut u64,
) -> Result<StepReport, String> {
    let schedule = Schedule::new(Instant::now() + STEP_LEAD, rate, seconds, *next_seq);
    *next_seq = schedule.seqs().end;
    recorder.lock().unwrap().begin_step(&schedule);
    let (cpu0, wall0) = (cpu::process_time(), Instant::now());
    let (done, sent) = oneshot::channel();
    commands.send((schedule.clone(), done)).await.map_err(|_| "the publisher stopped".to_owned())?;
    let sent_at = sent.await.map_err(|_| "the publisher stopped during a step (see events)".to_owned())?;
    let busy =
        cpu::fraction(cpu::process_time().saturating_sub(cpu0), sent_at.saturating_duration_since(wall0), args.threads);
    let expected = schedule.count * args.subscribers as u64;
    drain(recorder, expected, args).await;
    Ok(recorder.lock().unwrap().end_step(&schedule, busy))
}

/// Waits until every delivery came, or none came for `--drain-quiet-seconds`, or at most
/// `--drain-max-seconds`; then a little longer for duplicates trailing the last delivery.
async fn drain(recorder: &Shared, expected: u64, args: &Args) {
    let start = Instant::now();
    let (quiet, max) =
        (Duration::from_secs_f64(args.drain_quiet_seconds), Duration::from_secs_f64(args.drain_max_seconds));
    let (mut last, mut progress) = (u64::MAX, start);
    loop {
        let got = recorder.lock().unwrap().received();
        if got >= expected || start.elapsed() >= max {
            break;
        }
        if got != last {
            (last, progress) = (got, Instant::now());
        } else if progress.elapsed() >= quiet {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
}

fn settings(a: &Args) -> serde_json::Value {
    serde_json::json!({
        "subscribers": a.connections_only.as_ref().and_then(|c| c.last().copied()).unwrap_or(a.subscribers),
        "connections": a.connections_only,
        "ramp_step_max_seconds": a.connections_only.as_ref().map(|_| a.ramp_step_max_seconds),
        "idle_seconds": a.idle_seconds,
        "ping_every": a.idle_seconds.map(|_| a.ping_every),
        "rates": a.rates,
        "step_seconds": a.step_seconds,
        "warmup_seconds": a.warmup_seconds,
        "stop_p99_ms": a.stop_p99_ms,
        "body_bytes": a.body_bytes,
        "connect_concurrency": a.connect_concurrency,
        "drain_quiet_seconds": a.drain_quiet_seconds,
        "drain_max_seconds": a.drain_max_seconds,
        "hold_seconds": a.connections_only.as_ref().map(|_| a.hold_seconds),
        "threads": a.threads,
        "token": a.token.is_some(),
    })
}

fn print_table(args: &Args, r: &Report) {
    println!("\nloadgen {} {} room {}: {} subscribers", args.protocol, args.url, args.room, r.connect.attempted);
    println!("{}", report::connect_line(&r.connect));
    if !r.steps.is_empty() {
        println!("{}", report::header());
        for s in &r.steps {
            println!("{}", report::row(s));
        }
    }
    for s in &r.ramp {
        println!("{}", report::ramp_line(s));
    }
    if let Some(idle) = &r.idle {
        println!("{}", report::idle_lines(idle));
    }
    if let Some(why) = &r.stopped_because {
        println!("stopped: {why}");
    }
    if !r.events.is_empty() {
        println!(
            "{} events (closes, error frames), e.g. {} {}: {}",
            r.events.len() as u64 + r.events_dropped,
            r.events[0].who,
            r.events[0].kind,
            r.events[0].detail
        );
    }
}
