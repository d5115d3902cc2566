//! Peer timings from `tools/peers/bench.py` (torch, torchsort), read from
//! `target/peers.jsonl` or the file `CPRL_PEERS` names, so each benchmark row with a
//! peer also prints the ratio peer time / our time (above 1: we are faster).
//!
//! A ratio holds only when both sides ran on the same CPU (lavapipe and torch both run
//! on it; the same kernels differ 4x between CPU families), so the file's rows count
//! only when its CPU model is this machine's. Both should be measured in one session
//! on a quiet machine; the file records when it was measured.
//!
//! The instruction set counts too. On an AVX-512 machine, `GALLIUM_OVERRIDE_CPU_CAPS=avx`
//! makes lavapipe compile for AVX2 alone, which reproduces an AVX2 machine's lavapipe
//! speeds (benches/NOTES.md, "The AVX2 collapse reproduced on an AVX-512 machine"); `bench.py --isa avx2`
//! restricts torch likewise. A file's rows count only under the same restriction.

use std::collections::HashMap;
use std::path::PathBuf;

/// One peer's time for one benchmark row.
#[derive(Clone, Debug)]
pub struct Peer {
    pub name: String,
    pub ms: f64,
}

#[derive(Default)]
pub struct Peers {
    rows: HashMap<(String, String), Peer>,
}

/// The instruction set lavapipe compiles for here: "native", or "avx2" under
/// `GALLIUM_OVERRIDE_CPU_CAPS=avx` (Mesa's switch that turns AVX-512 off), or the
/// override's own value for the older sets it names.
pub fn isa() -> String {
    match cprl::host::mesa_cpu_caps_override().as_deref() {
        None => "native".into(),
        Some("avx") => "avx2".into(),
        Some(other) => other.to_string(),
    }
}

/// This machine's CPU model, the `model name` of /proc/cpuinfo (what lscpu prints).
pub fn cpu_model() -> String {
    // "unknown" as tools/peers/bench.py writes it where it finds no model.
    cprl::host::cpu_model().unwrap_or_else(|| "unknown".into())
}

impl Peers {
    /// The peers file's rows measured on this CPU model; none (with a line saying
    /// why) when the file is absent, unreadable or from another CPU.
    pub fn load() -> Peers {
        let path = std::env::var_os("CPRL_PEERS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/peers.jsonl"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Peers::default();
        };
        let (here, isa) = (cpu_model(), isa());
        let mut peers = Peers::default();
        let (mut other_cpu, mut other_isa, mut when) = (None, None, None);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                println!("peers: {} has a line that is not JSON; ignored", path.display());
                continue;
            };
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            if field("cpu") != here {
                other_cpu = Some(field("cpu"));
                continue;
            }
            // Files written before the field existed were all measured unrestricted.
            let row_isa = v.get("isa").and_then(|x| x.as_str()).unwrap_or("native");
            if row_isa != isa {
                other_isa = Some(row_isa.to_string());
                continue;
            }
            when = Some(field("when"));
            if let Some(ms) = v.get("ms").and_then(serde_json::Value::as_f64) {
                peers.rows.insert(
                    (field("op"), field("shape")),
                    Peer {
                        name: field("peer"),
                        ms,
                    },
                );
            }
        }
        match (other_cpu, other_isa, peers.rows.len()) {
            (_, Some(file_isa), 0) => println!(
                "peers: {} was measured with instruction set {file_isa:?}, this run is {isa:?}: no ratios \
                 (tools/peers/bench.py --isa avx2 pairs with GALLIUM_OVERRIDE_CPU_CAPS=avx)",
                path.display()
            ),
            (Some(cpu), None, 0) => println!(
                "peers: {} was measured on {cpu:?}, this machine is {here:?}: no ratios (run tools/peers/bench.py here)",
                path.display()
            ),
            (_, _, n) => println!(
                "peers: {n} rows from {} (CPU {here:?}, instruction set {isa:?}, measured {})",
                path.display(),
                when.unwrap_or_default()
            ),
        }
        peers
    }

    pub fn get(&self, op: &str, shape: &str) -> Option<&Peer> {
        self.rows.get(&(op.to_string(), shape.to_string()))
    }
}
