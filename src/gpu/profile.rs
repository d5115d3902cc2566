//! Per-kernel time, for finding where a whole command's time goes (`CPRL_PROFILE=1`).
//!
//! The benchmark times one op at a time; a training run or the demo is hundreds of
//! kernels. With `CPRL_PROFILE=1` every dispatch is submitted on its own and waited
//! for, after the work before it has finished, so the wall time of that submit and
//! wait is the kernel's time plus one submit's overhead (tens of microseconds on a CPU
//! driver). The run gets slower, since no batching is left, so the table is for
//! shares, not for the run's total. At exit the CLI prints the kernels by total time.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Whether `CPRL_PROFILE=1` was set when the first kernel launched.
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("CPRL_PROFILE").is_ok_and(|v| v == "1"))
}

#[derive(Clone, Copy, Default)]
struct Entry {
    calls: u64,
    time: Duration,
}

fn table() -> &'static Mutex<HashMap<(&'static str, &'static str), Entry>> {
    static TABLE: OnceLock<Mutex<HashMap<(&'static str, &'static str), Entry>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Adds one dispatch of `kernel`'s `entry` that took `time`.
pub(crate) fn record(kernel: &'static str, entry: &'static str, time: Duration) {
    let mut t = table().lock().unwrap_or_else(|p| p.into_inner());
    let e = t.entry((kernel, entry)).or_default();
    e.calls += 1;
    e.time += time;
}

/// The kernels by total time, largest first, as a table; None when nothing was
/// recorded. `top` limits the rows (the rest are summed in one line).
pub fn report(top: usize) -> Option<String> {
    let t = table().lock().unwrap_or_else(|p| p.into_inner());
    if t.is_empty() {
        return None;
    }
    let mut rows: Vec<_> = t.iter().map(|(k, e)| (*k, *e)).collect();
    rows.sort_by(|a, b| b.1.time.cmp(&a.1.time).then(a.0.cmp(&b.0)));
    let total: Duration = rows.iter().map(|r| r.1.time).sum();
    let share = |d: Duration| 100.0 * d.as_secs_f64() / total.as_secs_f64().max(1e-12);
    let mut out = format!(
        "{:<44} {:>9} {:>11} {:>10} {:>6}\n",
        "kernel (entry)", "calls", "total ms", "mean us", "share"
    );
    for ((kernel, entry), e) in rows.iter().take(top) {
        let name = if *entry == "main" {
            kernel.to_string()
        } else {
            format!("{kernel} ({entry})")
        };
        out += &format!(
            "{:<44} {:>9} {:>11.1} {:>10.1} {:>5.1}%\n",
            name,
            e.calls,
            e.time.as_secs_f64() * 1e3,
            e.time.as_secs_f64() * 1e6 / e.calls as f64,
            share(e.time)
        );
    }
    if rows.len() > top {
        let rest: Duration = rows[top..].iter().map(|r| r.1.time).sum();
        let calls: u64 = rows[top..].iter().map(|r| r.1.calls).sum();
        out += &format!(
            "{:<44} {:>9} {:>11.1} {:>10} {:>5.1}%\n",
            format!("{} other kernels", rows.len() - top),
            calls,
            rest.as_secs_f64() * 1e3,
            "",
            share(rest)
        );
    }
    out += &format!(
        "{:<44} {:>9} {:>11.1}\n",
        "all kernels",
        rows.iter().map(|r| r.1.calls).sum::<u64>(),
        total.as_secs_f64() * 1e3
    );
    Some(out)
}
