//! The idle mode (`--idle-seconds S --ping-every P`): what a hibernating room costs and how it
//! answers after a quiet spell.
//!
//! The subscribers and the publisher connect; a first message is sent and not timed (it wakes
//! whatever a first publish wakes), then the warm message is timed, a step of one message like
//! any other. Then every socket stays quiet for S seconds except for its ping every P seconds
//! (spread over the interval, see `ping`), whose pongs are counted. Then, after a short gap,
//! the first message after idle is timed the same way. A caller watching the server meanwhile
//! (its log, its CPU time, its memory) finds the phase's edges on stderr: `idle: begin` and
//! `idle: end`, printed as they happen; the gap of [`SAMPLE_GAP`] after the end is quiet too,
//! so that a sample taken then still sees the room as the idle wait left it.

use crate::client::{Heartbeat, Shared, Target};
use crate::ping::PingPlan;
use crate::report::{self, IdleReport, Quantiles, Report};
use crate::run::{connect_all, start_publisher, step, PAUSE};
use crate::Args;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Between the end of the idle wait and the message after it: room for the caller's samples.
pub const SAMPLE_GAP: Duration = Duration::from_millis(500);
/// Between the untimed first message (drained already) and the warm one.
const SETTLE: Duration = Duration::from_millis(250);

pub async fn run(args: &Args, target: &Target, recorder: &Shared, report: &mut Report) -> (i32, Vec<JoinHandle<()>>) {
    let n = args.subscribers;
    let (plan, plans) = watch::channel(None);
    let (connect, mut tasks, _) = connect_all(target, 0..n, args, recorder, Some(&plans), None).await;
    eprintln!("{}", report::connect_line(&connect));
    report.connect = connect;
    if report.connect.failed > 0 {
        report.stopped_because = Some(format!("{} subscribers failed to connect", report.connect.failed));
        return (1, tasks);
    }
    let (publisher, commands) =
        match start_publisher(args, target, recorder, Heartbeat::new(plans, target.protocol, n, n + 1)).await {
            Ok(p) => p,
            Err(e) => {
                report.stopped_because = Some(e);
                return (1, tasks);
            }
        };
    tasks.push(publisher); // last: the sockets closed are counted over all of them
    let closed = |tasks: &[JoinHandle<()>]| tasks.iter().filter(|t| t.is_finished()).count() as u64;

    let timed = async {
        tokio::time::sleep(PAUSE).await;
        let mut seq = 1;
        step(args, recorder, &commands, 1.0, 1.0, &mut seq).await?; // untimed: the first publish
        tokio::time::sleep(SETTLE).await;
        let warm = step(args, recorder, &commands, 1.0, 1.0, &mut seq).await?;

        let closed_before = closed(&tasks);
        let every = Duration::from_secs_f64(args.ping_every);
        let seconds = args.idle_seconds.expect("the idle mode has its seconds");
        let start = Instant::now();
        plan.send_replace(Some(PingPlan::new(start, seconds, every)));
        eprintln!("idle: begin ({seconds} s, a ping every {} s)", args.ping_every);
        tokio::time::sleep_until((start + Duration::from_secs_f64(seconds)).into()).await;
        eprintln!("idle: end");
        tokio::time::sleep(SAMPLE_GAP).await;
        let closed_during_idle = closed(&tasks) - closed_before;

        let after_idle = step(args, recorder, &commands, 1.0, 1.0, &mut seq).await?;
        let r = recorder.lock().unwrap();
        Ok::<_, String>(IdleReport {
            seconds,
            ping_every_seconds: args.ping_every,
            warm,
            after_idle,
            pings_sent: r.pings.sent,
            pongs: r.pings.answered,
            pong_ms: Quantiles::of(&r.pings.latency),
            closed_during_idle,
        })
    };
    match timed.await {
        Ok(idle) => {
            eprintln!("{}", report::idle_lines(&idle));
            report.idle = Some(idle);
            (0, tasks)
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            report.stopped_because = Some(e);
            (1, tasks)
        }
    }
}
