//! f64 reference of `ops::gate`: the CPR channel gate (docs/METHOD.md section 1).
//!
//! Shapes: z, c, n, m, key, r: [B, C]; the optional key weights w: [C].
//!
//! Per sample: key k = z (or |z * w_c|, or a key given by the caller); r = soft_rank(k) ascending in [1, C];
//! u = (r - 1) / (C - 1) (u = 1 when C = 1: the only channel is the largest);
//! m = sigmoid((u - q) / T), q = 1 - rho; c = z * m; n = z * (1 - m).

use super::softrank::network::{soft_rank_network_backward_ref, soft_rank_network_ref};
use super::softrank::pairwise::{
    sigmoid, sigmoid_grad, soft_rank_pairwise_backward_ref, soft_rank_pairwise_ref,
};
use super::softrank::pav::{soft_rank_pav_backward_ref, soft_rank_pav_ref};
use crate::ops::softrank::{Method, Order};

/// Soft ranks of each row of `x` ([rows, n]) by any method with an f64 reference.
pub fn soft_rank_any_ref(x: &[f64], n: usize, method: Method, strength: f64, order: Order) -> Vec<f64> {
    match method {
        Method::Pairwise => soft_rank_pairwise_ref(x, n, strength, order),
        Method::Network { kind, relaxation } => {
            soft_rank_network_ref(x, n, kind, relaxation, strength, order).0
        }
        Method::Pav(reg) => soft_rank_pav_ref(x, x.len() / n.max(1), n, reg, strength, order).ranks,
    }
}

/// `dx += J^T g` of [`soft_rank_any_ref`] at `x`.
pub fn soft_rank_any_backward_ref(
    x: &[f64],
    n: usize,
    method: Method,
    strength: f64,
    order: Order,
    g: &[f64],
    dx: &mut [f64],
) {
    match method {
        Method::Pairwise => soft_rank_pairwise_backward_ref(x, n, strength, order, g, dx),
        Method::Network { kind, relaxation } => {
            let (_, saved) = soft_rank_network_ref(x, n, kind, relaxation, strength, order);
            soft_rank_network_backward_ref(&saved, n, kind, relaxation, strength, order, g, dx)
        }
        Method::Pav(reg) => {
            let fwd = soft_rank_pav_ref(x, x.len() / n.max(1), n, reg, strength, order);
            soft_rank_pav_backward_ref(&fwd, g, n, reg, strength, order, dx)
        }
    }
}

/// `sign(v)` with `sign(0) = 0` (the kernels' WGSL `sign`).
pub fn sign0(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The gate's settings (`ops::gate::GateConfig` with host weights).
#[derive(Clone, Copy)]
pub struct GateRefConfig<'a> {
    pub rho: f64,
    pub temperature: f64,
    pub method: Method,
    pub strength: f64,
    /// Some(w) for the key |z * w_c|, None for k = z.
    pub weights: Option<&'a [f64]>,
}

/// Forward values and what the backward needs.
pub struct GateRefOut {
    pub c: Vec<f64>,
    pub n: Vec<f64>,
    pub m: Vec<f64>,
    pub key: Vec<f64>,
    pub r: Vec<f64>,
}

/// Normalised rank u in [0, 1] from a rank in [1, count].
pub fn unit_rank(r: f64, count: usize) -> f64 {
    if count <= 1 {
        1.0
    } else {
        (r - 1.0) / (count - 1) as f64
    }
}

/// The gate on z ([b, ch]).
pub fn cpr_gate_ref(z: &[f64], ch: usize, cfg: &GateRefConfig) -> GateRefOut {
    let key: Vec<f64> = match cfg.weights {
        None => z.to_vec(),
        Some(w) => z.iter().enumerate().map(|(i, v)| (v * w[i % ch]).abs()).collect(),
    };
    cpr_gate_from_key_ref(z, key, ch, cfg)
}

/// The gate on z ([b, ch]) ranked by a given `key` ([b, ch], `ops::gate::GateKey::Given`);
/// `cfg.weights` is not read.
pub fn cpr_gate_from_key_ref(z: &[f64], key: Vec<f64>, ch: usize, cfg: &GateRefConfig) -> GateRefOut {
    assert_eq!(key.len(), z.len(), "the key is shaped like z");
    let r = soft_rank_any_ref(&key, ch, cfg.method, cfg.strength, Order::Ascending);
    let q = 1.0 - cfg.rho;
    let m: Vec<f64> = r
        .iter()
        .map(|&ri| sigmoid((unit_rank(ri, ch) - q) / cfg.temperature))
        .collect();
    let c = z.iter().zip(&m).map(|(zv, mv)| zv * mv).collect();
    let n = z.iter().zip(&m).map(|(zv, mv)| zv * (1.0 - mv)).collect();
    GateRefOut { c, n, m, key, r }
}

/// Accumulates the gradients of `<gc, c> + <gn, n> + <gm, m>` into dz (and dw when
/// the key is weighted).
#[allow(clippy::too_many_arguments)]
pub fn cpr_gate_backward_ref(
    z: &[f64],
    ch: usize,
    cfg: &GateRefConfig,
    fwd: &GateRefOut,
    gc: &[f64],
    gn: &[f64],
    gm: &[f64],
    dz: &mut [f64],
    dw: Option<&mut [f64]>,
) {
    let mut dkey = vec![0.0; z.len()];
    cpr_gate_backward_to_key_ref(z, ch, cfg, fwd, gc, gn, gm, dz, &mut dkey);
    match cfg.weights {
        None => dz.iter_mut().zip(&dkey).for_each(|(d, k)| *d += k),
        Some(w) => {
            let mut dw = dw;
            for i in 0..z.len() {
                // key = |z w|
                let s = sign0(z[i] * w[i % ch]);
                dz[i] += dkey[i] * s * w[i % ch];
                if let Some(dw) = dw.as_deref_mut() {
                    dw[i % ch] += dkey[i] * s * z[i];
                }
            }
        }
    }
}

/// The backward of [`cpr_gate_from_key_ref`]: accumulates the gradients of
/// `<gc, c> + <gn, n> + <gm, m>` into dz (through c and n only) and dkey (through the
/// ranks).
#[allow(clippy::too_many_arguments)]
pub fn cpr_gate_backward_to_key_ref(
    z: &[f64],
    ch: usize,
    cfg: &GateRefConfig,
    fwd: &GateRefOut,
    gc: &[f64],
    gn: &[f64],
    gm: &[f64],
    dz: &mut [f64],
    dkey: &mut [f64],
) {
    let q = 1.0 - cfg.rho;
    let slope = if ch <= 1 {
        0.0
    } else {
        1.0 / ((ch - 1) as f64 * cfg.temperature)
    };
    let mut dr = vec![0.0; z.len()];
    for i in 0..z.len() {
        // c = z m, n = z (1 - m)
        dz[i] += gc[i] * fwd.m[i] + gn[i] * (1.0 - fwd.m[i]);
        let dm = (gc[i] - gn[i]) * z[i] + gm[i];
        // m = sigmoid((u - q) / T), u = (r - 1) / (C - 1)
        let t = (unit_rank(fwd.r[i], ch) - q) / cfg.temperature;
        dr[i] = dm * sigmoid_grad(t) * slope;
    }
    // r = soft_rank(key)
    soft_rank_any_backward_ref(
        &fwd.key,
        ch,
        cfg.method,
        cfg.strength,
        Order::Ascending,
        &dr,
        dkey,
    );
}

/// How closely the f32 gate must match this reference: one set of rules, used by the
/// tests (`tests/gate.rs`) and the benchmark's validation alike.
pub mod tolerance {
    use crate::reference::Tolerance;
    use crate::reference::tolerance::max_abs;

    /// m = sigmoid((u - q) / T), the mask: it moves by dr / ((C - 1) T) / 4 for a rank
    /// error dr (f32 sums of C terms: about 1e-5 C).
    pub const MASK: Tolerance = Tolerance::abs(1e-4);
    /// c and n, the causal and non-causal features: z m and z (1 - m) with z < 2, so
    /// twice the mask's.
    pub const FEATURES: Tolerance = Tolerance::abs(2e-4);

    /// dz (and the gradient of a given key): the rank path multiplies rank-gradient
    /// errors (2e-5 of the largest, see the soft-rank tolerances) by up to
    /// 1 / ((C - 1) T) / 4 per channel.
    pub fn dz(want: &[f64]) -> Tolerance {
        Tolerance::abs(1e-4 * max_abs(want) + 1e-5)
    }

    /// dw, the weights of the |z * w| key: sums of B terms of dz's size.
    pub fn dw(want: &[f64], b: usize) -> Tolerance {
        Tolerance::abs(1e-4 * max_abs(want) + 1e-5 * b as f64)
    }
}
