//! The connection ramp (`--connections-only 1000,2000,5000`): idle subscribers into one room,
//! in steps up to each count, each step held `--hold-seconds` once its connections are in. A
//! caller that samples the server meanwhile (its memory, say) watches stderr for
//! `ramp: holding N`, printed as each hold begins.
//!
//! The ramp stops after a step with a failed connection, a dropped one, or one still
//! connecting after `--ramp-step-max-seconds`: the count held before it is the most the server
//! (or a file-descriptor limit on either side) allowed.

use crate::client::{Shared, Target};
use crate::recorder::{self, round};
use crate::report::{self, ConnectReport, Quantiles, RampStep, Report};
use crate::run::connect_all;
use crate::Args;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

pub async fn run(args: &Args, target: &Target, recorder: &Shared, report: &mut Report) -> (i32, Vec<JoinHandle<()>>) {
    let counts = args.connections_only.clone().expect("the connections mode has counts");
    let t0 = Instant::now();
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    let mut times = recorder::histogram();
    let mut total = ConnectReport { concurrency: args.connect_concurrency, ..ConnectReport::default() };
    let mut from = 0;
    for &count in &counts {
        let deadline = Instant::now() + Duration::from_secs_f64(args.ramp_step_max_seconds);
        let (step, new, step_times) = connect_all(target, from..count, args, recorder, None, Some(deadline)).await;
        tasks.extend(new);
        times.add(&step_times).expect("histograms of the same bounds");
        total.attempted += step.attempted;
        total.failed += step.failed;
        total.failures.extend(step.failures.iter().take(5 - total.failures.len().min(5)).cloned());

        eprintln!("ramp: holding {}", tasks.len());
        tokio::time::sleep(Duration::from_secs_f64(args.hold_seconds)).await;
        let dropped = tasks.iter().filter(|t| t.is_finished()).count() as u64;
        let s = RampStep {
            target: count as u64,
            held: tasks.len() as u64 - dropped,
            attempted: step.attempted,
            failed: step.failed,
            failures: step.failures.into_iter().take(3).collect(),
            seconds: step.seconds,
            ms: step.ms,
            dropped,
        };
        eprintln!("{}", report::ramp_line(&s));
        report.ramp.push(s);
        from = count;
        let stop = stop_reason(report.ramp.last().expect("just pushed"), args.ramp_step_max_seconds);
        if stop.is_some() {
            report.stopped_because = stop;
            break;
        }
    }
    total.connected = tasks.len() as u64;
    total.seconds = round(t0.elapsed().as_secs_f64(), 3);
    total.ms = Quantiles::of(&times);
    eprintln!("{}", report::connect_line(&total));
    report.connect = total;
    report.dropped_while_held = report.ramp.last().map(|s| s.dropped);
    (0, tasks)
}

/// Why the ramp ends after step `s` (which was to connect up to `s.target`), if it does.
fn stop_reason(s: &RampStep, max_seconds: f64) -> Option<String> {
    if s.failed > 0 {
        Some(format!(
            "{} of {} connections failed on the way to {}: {}",
            s.failed,
            s.attempted,
            s.target,
            s.failures.first().map_or("", String::as_str)
        ))
    } else if s.dropped > 0 {
        Some(format!("{} connections dropped while {} were held", s.dropped, s.held + s.dropped))
    } else if s.held < s.target {
        Some(format!("{} held of {}: the step ran out of its {} s", s.held, s.target, max_seconds))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(target: u64, held: u64, attempted: u64, failed: u64, dropped: u64) -> RampStep {
        RampStep {
            target,
            held,
            attempted,
            failed,
            failures: if failed > 0 { vec!["Too many open files (os error 24)".into()] } else { vec![] },
            seconds: 1.0,
            ms: Quantiles::default(),
            dropped,
        }
    }

    #[test]
    fn a_step_that_holds_its_whole_count_lets_the_ramp_go_on() {
        assert_eq!(stop_reason(&step(2000, 2000, 1000, 0, 0), 60.0), None);
    }

    #[test]
    fn a_failed_connection_a_dropped_one_or_a_step_out_of_time_ends_the_ramp() {
        let failed = stop_reason(&step(20000, 19990, 10000, 10, 0), 60.0).unwrap();
        assert!(
            failed.starts_with("10 of 10000 connections failed on the way to 20000: Too many open files"),
            "{failed}"
        );
        let dropped = stop_reason(&step(5000, 4990, 3000, 0, 10), 60.0).unwrap();
        assert_eq!(dropped, "10 connections dropped while 5000 were held");
        let slow = stop_reason(&step(10000, 7000, 2000, 0, 0), 60.0).unwrap();
        assert_eq!(slow, "7000 held of 10000: the step ran out of its 60 s");
    }
}
