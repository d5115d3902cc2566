//! Autotuning: pick the fastest kernel version for a shape on the running adapter.
//!
//! CPU drivers and real GPUs reward opposite kernel styles (see the op modules), so
//! ops with several versions ask [`choose`] which one to run. The first call for an
//! (op, shape key) on an adapter times every candidate (one warm-up, then the median
//! of a few synchronised runs; a candidate far slower than the best so far is dropped
//! after two runs) and caches the winner in memory and, when
//! `CPRL_TUNE_CACHE` names a file, on disk as JSON. Every candidate computes the
//! same result (tests hold each version to the reference), so the choice changes
//! speed only. `CPRL_TUNE=off` skips measuring and takes the first candidate
//! (the op's documented default); so does a thread under a test's launch override
//! (`gpu::with_launch_override`), which leaves the cache alone.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crate::error::Result;
use crate::gpu::Gpu;

type Cache = HashMap<String, String>;

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(load().unwrap_or_default()))
}

fn cache_path() -> Option<std::path::PathBuf> {
    std::env::var_os("CPRL_TUNE_CACHE").map(Into::into)
}

fn load() -> Option<Cache> {
    let text = std::fs::read_to_string(cache_path()?).ok()?;
    serde_json::from_str(&text).ok()
}

fn save(c: &Cache) {
    let Some(path) = cache_path() else { return };
    let Ok(text) = serde_json::to_string_pretty(c) else {
        return;
    };
    // Write then rename, so a crash never leaves half a file.
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
}

/// Whether measuring is switched on (`CPRL_TUNE` is not `off`).
pub fn enabled() -> bool {
    std::env::var("CPRL_TUNE").map_or(true, |v| v != "off" && v != "0")
}

/// Rounds a size up to a power of two, so nearby shapes share one tuning entry.
pub fn bucket(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// The fastest of `candidates` for `key` (e.g. "b=64,n=1024"), measuring on first use.
/// `run(c)` must enqueue candidate `c` once (its output is discarded).
///
/// `key` must name every property of the shape that changes a candidate's code path
/// (constants, entry points, vec4 views, whether work is split into passes), not
/// only its bucketed sizes: shapes that share a key share the measured choice. Ops
/// build it from a typed key (e.g. conv2d's `TuneKey`, matmul's `MatmulTuneKey`)
/// whose predicates the launch code shares. When a key gains a field, the strings in
/// an on-disk cache no longer match: those entries are simply measured again.
pub fn choose<V: Copy + std::fmt::Debug>(
    gpu: &Gpu,
    op: &str,
    key: &str,
    candidates: &[V],
    mut run: impl FnMut(V) -> Result<()>,
) -> Result<V> {
    assert!(!candidates.is_empty(), "{op}: no candidates");
    // A forced launch (`gpu::with_launch_override`, tests only) changes launch shapes
    // that keys do not name, so the cache is neither read nor written under one. The
    // first candidate is taken, as with tuning off: it is the op's documented default,
    // every candidate computes the same result, and measuring instead would re-time
    // every call (nothing could be cached) for a choice that says nothing about this
    // adapter's own launches.
    if candidates.len() == 1 || !enabled() || crate::gpu::launch_override::active() {
        return Ok(candidates[0]);
    }
    // The candidate set is part of the key: shapes that share a bucketed key but not
    // their candidates must not evict each other's choice (which would change a
    // key's kernel, and so its rounding, in the middle of a run).
    let names: Vec<String> = candidates.iter().map(|c| format!("{c:?}")).collect();
    let full_key = format!("{}|{op}|{key}|{}", gpu.adapter_key(), names.join("/"));
    let known = cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&full_key)
        .cloned();
    if let Some(&c) = known.and_then(|name| candidates.iter().find(|c| format!("{c:?}") == name)) {
        return Ok(c);
    }
    let mut best = (f64::INFINITY, candidates[0]);
    for &c in candidates {
        // Far slower than the best so far on its first run: not timed further.
        let give_up = GIVE_UP_FACTOR * best.0 + GIVE_UP_SLACK;
        if let Some(t) = time_unless_slower(gpu, || run(c), give_up)?
            && t < best.0
        {
            best = (t, c);
        }
    }
    let mut guard = cache().lock().unwrap_or_else(|p| p.into_inner());
    // Another thread may have tuned the same key meanwhile: the first choice stays,
    // so a key's kernel never changes within a process and two runs of one
    // computation give the same bits.
    let earlier = guard
        .get(&full_key)
        .and_then(|name| candidates.iter().find(|c| format!("{c:?}") == *name).copied());
    if let Some(c) = earlier {
        return Ok(c);
    }
    guard.insert(full_key, format!("{:?}", best.1));
    save(&guard);
    Ok(best.1)
}

/// A candidate whose warm-up run and the run after it both take longer than
/// `GIVE_UP_FACTOR` x the best median so far + `GIVE_UP_SLACK` seconds is dropped after
/// those two runs. On CPU drivers a GPU-style version can be 10-100x slower (PAV v3 at
/// 2048 rows: seconds per run), and timing it fully would cost the first call that
/// many seconds again. The second run keeps a slow compilation (inside the first run
/// on lavapipe) from dropping a fast kernel.
const GIVE_UP_FACTOR: f64 = 4.0;
const GIVE_UP_SLACK: f64 = 0.5;

/// Median wall time in seconds of `f` (enqueue + wait), after one warm-up run that
/// also compiles the pipeline. Repeats until ~50 ms or 5 runs have passed.
pub fn time(gpu: &Gpu, f: impl FnMut() -> Result<()>) -> Result<f64> {
    Ok(time_unless_slower(gpu, f, f64::INFINITY)?.unwrap_or(f64::INFINITY))
}

/// `time`, or None when the warm-up run and the run after it (compilation no longer
/// included) each take longer than `limit` seconds.
fn time_unless_slower(gpu: &Gpu, mut f: impl FnMut() -> Result<()>, limit: f64) -> Result<Option<f64>> {
    let mut run = || -> Result<f64> {
        let t0 = Instant::now();
        f()?;
        gpu.sync()?;
        Ok(t0.elapsed().as_secs_f64())
    };
    if run()? > limit && run()? > limit {
        return Ok(None);
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (times.len() < 5 && start.elapsed().as_secs_f64() < 0.05) {
        times.push(run()?);
    }
    times.sort_by(f64::total_cmp);
    Ok(Some(times[times.len() / 2]))
}

/// Test support for typed keys: over a grid of shapes, two with the same key must meet
/// the same code paths (a cached choice is never applied to, or overwritten by, a
/// shape that runs other code), and the grid must merge enough shapes to prove it.
#[cfg(test)]
pub(crate) struct KeyGrid<P> {
    seen: HashMap<String, (P, String)>,
    shapes: usize,
    shared: usize,
}

#[cfg(test)]
impl<P: PartialEq + std::fmt::Debug> KeyGrid<P> {
    pub(crate) fn new() -> Self {
        KeyGrid {
            seen: HashMap::new(),
            shapes: 0,
            shared: 0,
        }
    }

    /// One shape: its key, the code paths it meets, and its name for the report.
    /// Panics when an earlier shape with the same key met other paths.
    pub(crate) fn add(&mut self, key: impl std::fmt::Display, paths: P, what: impl Into<String>) {
        let (key, what) = (key.to_string(), what.into());
        self.shapes += 1;
        if let Some((then, other)) = self.seen.get(&key) {
            assert_eq!(*then, paths, "{what} and {other} share the key {key}");
            self.shared += 1;
        } else {
            self.seen.insert(key, (paths, what));
        }
    }

    /// Panics unless at least `min_shared` shapes shared a key with an earlier one: the
    /// buckets must merge shapes, or the grid proves nothing.
    pub(crate) fn assert_merged(&self, min_shared: usize) {
        println!(
            "{} of {} shapes shared a key with an earlier one",
            self.shared, self.shapes
        );
        assert!(
            self.shared >= min_shared,
            "only {} of {} shapes shared a key",
            self.shared,
            self.shapes
        );
    }

    pub(crate) fn shapes(&self) -> usize {
        self.shapes
    }
}
