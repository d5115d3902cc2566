//! The gate's health, read from the mask m of a batch: whether the gate passes about
//! rho * C channels, how decided it is, and whether the images agree on which ones.
//! docs/METHOD.md, "Scale decides whether the gate exists": a gate that passes nothing
//! (m ~ 0.007 everywhere) looked healthy by its loss; these numbers show it the moment
//! it happens.

use serde::{Deserialize, Serialize};

use super::objective::f64s;
use crate::metrics::correlation::std_population;

/// Summary of m ([B, C]) over one batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateHealth {
    /// Channels with m > 0.5, averaged over the images (about rho * C when healthy).
    pub channels_on: f64,
    /// C.
    pub channels: usize,
    /// The standard deviation of m over channels, averaged over the images: near
    /// 0.5 for a decided gate (m near 0 or 1), near 0 for one that does not separate.
    pub m_spread: f64,
    /// Mean Jaccard overlap of the top sets (m > 0.5) between each image and the next
    /// one of the batch: 1 when every image opens the same channels.
    pub top_set_stability: f64,
}

impl GateHealth {
    /// The health of `m`, row-major [B, C].
    ///
    /// # Panics
    /// When `c` is 0 or does not divide `m.len()`.
    pub fn of(m: &[f32], c: usize) -> GateHealth {
        assert!(c > 0 && m.len().is_multiple_of(c), "m must be [B, C]");
        let rows: Vec<&[f32]> = m.chunks(c).collect();
        let b = rows.len().max(1) as f64;
        let on: Vec<Vec<bool>> = rows
            .iter()
            .map(|r| r.iter().map(|&v| v > 0.5).collect())
            .collect();
        let channels_on = on
            .iter()
            .map(|r| r.iter().filter(|&&x| x).count() as f64)
            .sum::<f64>()
            / b;
        let m_spread = rows.iter().map(|r| std_population(&f64s(r))).sum::<f64>() / b;
        let pairs: Vec<f64> = on.windows(2).map(|w| jaccard(&w[0], &w[1])).collect();
        let top_set_stability = if pairs.is_empty() {
            1.0
        } else {
            pairs.iter().sum::<f64>() / pairs.len() as f64
        };
        GateHealth {
            channels_on,
            channels: c,
            m_spread,
            top_set_stability,
        }
    }
}

/// |a and b| / |a or b|; 1 when both are empty.
fn jaccard(a: &[bool], b: &[bool]) -> f64 {
    let both = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let either = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    if either == 0 {
        1.0
    } else {
        both as f64 / either as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decided_shared_gate_and_a_closed_one() {
        // Two images, four channels, both open channels 0 and 1.
        let m = [0.99, 0.98, 0.01, 0.02, 0.97, 0.99, 0.03, 0.01];
        let h = GateHealth::of(&m, 4);
        assert_eq!(h.channels_on, 2.0);
        assert_eq!(h.top_set_stability, 1.0);
        assert!(h.m_spread > 0.45, "{h:?}");
        // The collapsed gate of docs/METHOD.md section 1: m = 0.007 everywhere.
        let h = GateHealth::of(&[0.007; 8], 4);
        assert_eq!(h.channels_on, 0.0);
        assert!(h.m_spread < 1e-9);
        // Disjoint top sets.
        let h = GateHealth::of(&[0.9, 0.1, 0.1, 0.9], 2);
        assert_eq!(h.top_set_stability, 0.0);
    }
}
