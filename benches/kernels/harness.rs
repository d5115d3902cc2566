//! The benchmark discipline: validate against the f64 reference, then warm up and
//! time; report medians with the spread, throughput, and one JSON line per row.

use std::sync::Arc;
use std::time::Instant;

use crate::peers::Peers;

use cprl::Gpu;
pub use cprl::reference::Tolerance;

/// One benchmark row's identity and work.
pub struct Case {
    pub op: &'static str,
    pub shape: String,
    pub variant: String,
    /// Floating-point operations per run (0 when the op is memory-bound).
    pub flops: f64,
    /// Bytes read plus bytes written per run, counted once.
    pub bytes: f64,
    /// Elements processed per run, for ops measured in elements per second (soft
    /// ranks: B n); 0 elsewhere.
    pub elems: f64,
}

pub struct Harness {
    pub gpu: Arc<Gpu>,
    filters: Vec<String>,
    /// `--quick`: fewer shapes and repeats (a smoke run).
    pub quick: bool,
    /// `--time-invalid`: time rows that fail validation too (kernel experiments, e.g.
    /// a shader with a phase cut out through `CPRL_SHADER_DIR`); they stay marked.
    pub time_invalid: bool,
    /// `--shape=TEXT`: only rows whose shape contains TEXT.
    pub shape: Option<String>,
    /// `--validate-only`: check every row against the reference and time nothing (a
    /// run of the benchmark's validation on another backend or driver, in minutes).
    pub validate_only: bool,
    failures: usize,
    /// Rows validated.
    validated: usize,
    /// Peer timings on this CPU (`tools/peers/bench.py`), for the "vs peer" column.
    peers: Peers,
}

/// `validate` returns Err(description) when the kernel disagrees with the reference.
pub type Validation = Result<(), String>;

impl Harness {
    pub fn from_args() -> Harness {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let time_invalid = args.iter().any(|a| a == "--time-invalid");
        let validate_only = args.iter().any(|a| a == "--validate-only");
        let shape = args
            .iter()
            .find_map(|a| a.strip_prefix("--shape="))
            .map(str::to_string);
        let filters = args.into_iter().filter(|a| !a.starts_with("--")).collect();
        let gpu = Gpu::new().unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2);
        });
        Harness {
            gpu,
            filters,
            quick,
            time_invalid,
            shape,
            validate_only,
            failures: 0,
            validated: 0,
            peers: Peers::load(),
        }
    }

    /// Whether rows of `op` were asked for (no filter: all).
    pub fn wants(&self, op: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| op.contains(f.as_str()))
    }

    pub fn header(&self) {
        let i = self.gpu.info();
        println!(
            "adapter: {} | backend {:?} | type {:?} | driver {} {} | timestamps: {}",
            i.name,
            i.backend,
            i.device_type,
            i.driver,
            i.driver_info,
            if self.gpu.has_timestamps() {
                "yes"
            } else {
                "no (wall clock)"
            }
        );
        println!(
            "{:<22} {:<28} {:<16} {:>10} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "op", "shape", "variant", "ms", "spread%", "GFLOP/s", "GB/s", "vs cpu", "Gelem/s", "vs peer"
        );
    }

    /// Validates, then times `run` (which enqueues one execution). `cpu_ref` runs the
    /// f64 reference once, for the ratio column (None where it would take minutes).
    pub fn run(
        &mut self,
        case: Case,
        validate: impl FnOnce() -> Validation,
        mut run: impl FnMut() -> cprl::Result<()>,
        cpu_ref: Option<&mut dyn FnMut()>,
    ) {
        if self
            .shape
            .as_ref()
            .is_some_and(|s| !case.shape.contains(s.as_str()))
        {
            return;
        }
        let mut case = case;
        self.validated += 1;
        if let Err(why) = validate() {
            self.failures += 1;
            println!(
                "{:<22} {:<28} {:<16} INVALID: {why}",
                case.op, case.shape, case.variant
            );
            self.json(&case, None, None, Some(&why));
            if !self.time_invalid || self.validate_only {
                return;
            }
            case.variant = format!("{}!INVALID", case.variant);
        }
        if self.validate_only {
            println!("{:<22} {:<28} {:<16} valid", case.op, case.shape, case.variant);
            return;
        }
        let gpu = self.gpu.clone();
        let mut once = || -> cprl::Result<f64> {
            let t0 = Instant::now();
            let dev = gpu.time_gpu(&mut run)?;
            Ok(dev.unwrap_or_else(|| t0.elapsed().as_secs_f64()))
        };
        // Warm-up: compiles pipelines (llvmpipe compiles at first dispatch), fills pools.
        for _ in 0..2 {
            if let Err(e) = once() {
                println!(
                    "{:<22} {:<28} {:<16} ERROR: {e}",
                    case.op, case.shape, case.variant
                );
                self.failures += 1;
                return;
            }
        }
        let (min_reps, max_reps, budget) = if self.quick { (3, 5, 0.2) } else { (7, 50, 1.0) };
        let mut times = Vec::new();
        let start = Instant::now();
        while times.len() < min_reps || (times.len() < max_reps && start.elapsed().as_secs_f64() < budget) {
            match once() {
                Ok(t) => times.push(t),
                Err(e) => {
                    println!(
                        "{:<22} {:<28} {:<16} ERROR: {e}",
                        case.op, case.shape, case.variant
                    );
                    self.failures += 1;
                    return;
                }
            }
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        // Spread: interquartile range relative to the median.
        let spread = (times[times.len() * 3 / 4] - times[times.len() / 4]) / median * 100.0;
        let cpu = cpu_ref.map(|f| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        });
        let gflops = (case.flops > 0.0).then(|| case.flops / median / 1e9);
        let gbs = (case.bytes > 0.0).then(|| case.bytes / median / 1e9);
        let gelems = (case.elems > 0.0).then(|| case.elems / median / 1e9);
        let peer = self.peers.get(case.op, &case.shape).cloned();
        // Peer time over ours: above 1, cprl is faster.
        let vs_peer = peer.as_ref().map(|p| p.ms / (median * 1e3));
        println!(
            "{:<22} {:<28} {:<16} {:>10.4} {:>8.1} {:>10} {:>9} {:>9} {:>9} {:>9}",
            case.op,
            case.shape,
            case.variant,
            median * 1e3,
            spread,
            gflops.map_or("-".into(), |g| format!("{g:.2}")),
            gbs.map_or("-".into(), |g| format!("{g:.2}")),
            cpu.map_or("-".into(), |c| format!("{:.1}x", c / median)),
            gelems.map_or("-".into(), |g| format!("{g:.3}")),
            vs_peer.map_or("-".into(), |r| format!("{r:.2}x")),
        );
        self.json(&case, Some((median, spread, gflops, gbs)), cpu, None);
        if let (Some(p), Some(r)) = (peer, vs_peer) {
            let v = serde_json::json!({
                "bench": "cprl-kernels-vs-peer",
                "op": case.op,
                "shape": case.shape,
                "variant": case.variant,
                "ms": median * 1e3,
                "peer": p.name,
                "peer_ms": p.ms,
                "peer_over_ours": r,
                "cpu": crate::peers::cpu_model(),
                "isa": crate::peers::isa(),
            });
            println!("JSON {v}");
        }
    }

    fn json(
        &self,
        case: &Case,
        t: Option<(f64, f64, Option<f64>, Option<f64>)>,
        cpu: Option<f64>,
        invalid: Option<&str>,
    ) {
        let i = self.gpu.info();
        let v = serde_json::json!({
            "bench": "cprl-kernels",
            "op": case.op,
            "shape": case.shape,
            "variant": case.variant,
            "adapter": i.name,
            "backend": format!("{:?}", i.backend),
            "device_type": format!("{:?}", i.device_type),
            "timer": if self.gpu.has_timestamps() { "gpu-timestamp" } else { "wall" },
            "ms": t.map(|t| t.0 * 1e3),
            "us": t.map(|t| t.0 * 1e6),
            "elems_per_s": t.filter(|_| case.elems > 0.0).map(|t| case.elems / t.0),
            "spread_pct": t.map(|t| t.1),
            "gflops": t.and_then(|t| t.2),
            "gbs": t.and_then(|t| t.3),
            "cpu_ref_ms": cpu.map(|c| c * 1e3),
            "invalid": invalid,
        });
        println!("JSON {v}");
    }

    /// Exit status: 1 when any variant failed validation or errored.
    pub fn finish(&self) -> i32 {
        eprintln!("{} row(s) validated against the reference", self.validated);
        if self.failures > 0 {
            eprintln!("{} benchmark row(s) failed validation or errored", self.failures);
            1
        } else {
            0
        }
    }
}

/// Compares a kernel result with the reference within `tol`, the bound the tests use
/// too (each family's `cprl::reference::*::tolerance`).
pub fn check(got: &[f32], want: &[f64], tol: Tolerance) -> Validation {
    tol.check(got, want)
}

/// Seeded uniform values in [-1, 1).
pub fn rand(seed: u64, n: usize) -> Vec<f32> {
    cprl::reference::rng::uniform_ref(n, seed, -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}
