//! The generator's own CPU time, from `/proc/self/stat` (utime + stime, in clock ticks), to
//! tell when a step measured the generator rather than the server: if the generator used
//! (nearly) all of its cores while sending, its numbers are a floor, not the server's limit.

use std::time::Duration;

/// CPU use, as a fraction of the generator's cores over a window, from which a step is
/// marked `generator_bound`.
pub const BOUND: f64 = 0.9;

/// Process CPU time (user + system) so far, or zero where `/proc` is not there.
pub fn process_time() -> Duration {
    std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| parse_stat(&s)).map_or(Duration::ZERO, |ticks| {
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Duration::from_secs_f64(ticks as f64 / if hz > 0 { hz as f64 } else { 100.0 })
    })
}

/// utime + stime in ticks: fields 14 and 15 of proc(5)'s stat, counted after `comm`, which
/// is parenthesised and may itself hold spaces and parentheses (hence the last `)`).
fn parse_stat(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace(); // field 3 (state) onwards
    let utime: u64 = fields.nth(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time over a wall-clock window, as a fraction of `cores` fully busy.
pub fn fraction(cpu: Duration, wall: Duration, cores: usize) -> f64 {
    if wall.is_zero() {
        return 0.0;
    }
    cpu.as_secs_f64() / wall.as_secs_f64() / cores.max(1) as f64
}

/// Raises the soft limit on open files to the hard limit (many idle sockets), returning it.
pub fn raise_fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain syscalls on a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    Some(lim.rlim_cur as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name_even_with_spaces_in_it() {
        let stat = "4242 (load gen (x)) R 1 4242 4242 0 -1 4194560 1200 0 0 0 250 37 0 0 20 0 3 0 99";
        assert_eq!(parse_stat(stat), Some(287));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_has_a_cpu_time_and_a_busy_window_is_near_one_core() {
        let _ = process_time(); // readable on Linux; zero elsewhere
        assert!((fraction(Duration::from_millis(950), Duration::from_secs(1), 1) - 0.95).abs() < 1e-9);
        assert_eq!(fraction(Duration::from_secs(1), Duration::ZERO, 1), 0.0);
        assert!((fraction(Duration::from_secs(1), Duration::from_secs(1), 2) - 0.5).abs() < 1e-9);
    }
}
