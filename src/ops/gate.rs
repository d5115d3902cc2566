//! The CPR channel gate (docs/METHOD.md section 1, "The CPR gate"): per sample, rank the
//! C channels by a key, turn the normalised rank into a soft mask, split z into CPR and
//! N-CPR.
//!
//! ```text
//! k = z (or |z * w_c|);  r = soft_rank(k) ascending in [1, C];
//! u = (r - 1) / (C - 1)  (u = 1 when C = 1: the only channel is the largest);
//! m = sigmoid((u - q) / T), q = 1 - rho;  c = z * m;  n = z * (1 - m).
//! ```
//!
//! Composition: the key is `abs(mul(z, w))` from the elementwise ops, z itself, or a
//! tensor the caller computed ([`GateKey::Given`]); the rank is `softrank::soft_rank`
//! with the configured method (each records its own backward), and the rest is one
//! fused kernel writing (c, n, m). Each of the three outputs records its own backward
//! node (`gate_backward_v1.wgsl`, one dispatch each), so a loss may use any subset;
//! gradients reach z directly, through the ranks and through the key (and w, or
//! whatever a given key was computed from, when it requires one).
//!
//! Versions:
//! - `gate_forward_v1` / `gate_backward_v1`: one invocation per element.
//!
//! Bench: `cargo bench --bench kernels -- gate`.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::elementwise as ew;
use crate::ops::softrank::{self, Method, Regularization};
use crate::tensor::Tensor;

static FORWARD_V1: Kernel = kernel!("gate_forward_v1");
static BACKWARD_V1: Kernel = kernel!("gate_backward_v1");
const WG: u32 = 256;

/// What the channels are ranked by.
#[derive(Debug, Clone, Default)]
pub enum GateKey {
    /// k = z.
    #[default]
    Z,
    /// k = |z * w_c| with per-channel weights w of shape [C] (e.g. the norm of the
    /// head's first-layer weights per channel). Gradients flow into w if it needs one.
    WeightedAbs(Tensor),
    /// A key the caller computed, [B, C] like z (the CPRL model standardises its key
    /// per sample this way). The ranks' gradient flows into it, and through it to
    /// whatever it was computed from; z gets only the gradient through c and n.
    Given(Tensor),
}

/// Settings of [`cpr_gate`].
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Share of channels treated as causal (q = 1 - rho).
    pub rho: f32,
    /// Mask temperature T.
    pub temperature: f32,
    /// Soft-rank method and its strength.
    pub method: Method,
    pub strength: f32,
    pub key: GateKey,
}

impl Default for GateConfig {
    /// rho 0.25, T 0.05 (docs/METHOD.md section 1); PAV (l2) ranks with torchsort's default
    /// strength 1 (the CPRL model passes its own, 1 / C on a standardised key).
    fn default() -> Self {
        GateConfig {
            rho: 0.25,
            temperature: 0.05,
            method: Method::Pav(Regularization::L2),
            strength: 1.0,
            key: GateKey::Z,
        }
    }
}

/// (a, b) with `a r + b = (u - q) / T`, `u = (r - 1) / (count - 1)`, and u = 1 for count 1.
pub fn rank_gate_affine(count: usize, q: f32, temperature: f32) -> (f32, f32) {
    if count <= 1 {
        return (0.0, (1.0 - q) / temperature);
    }
    let c1 = (count - 1) as f32;
    (1.0 / (c1 * temperature), -(1.0 / c1 + q) / temperature)
}

crate::uniform! {
    struct Params {
        count: u32,
        a: f32,
        b: f32,
        _pad: u32,
    }
}

/// The gate on z ([B, C]): (CPR c, N-CPR n, mask m), each [B, C].
pub fn cpr_gate(z: &Tensor, cfg: &GateConfig) -> Result<(Tensor, Tensor, Tensor)> {
    if z.dims() != 2 {
        return Err(Error::shape(
            "cpr_gate",
            format!("z must be [B, C], got {:?}", z.shape()),
        ));
    }
    if !(cfg.temperature > 0.0 && cfg.temperature.is_finite() && (0.0..=1.0).contains(&cfg.rho)) {
        return Err(Error::Invalid(format!(
            "cpr_gate: need 0 <= rho <= 1 and T > 0, got rho {} T {}",
            cfg.rho, cfg.temperature
        )));
    }
    let ch = z.dim(1);
    let key = match &cfg.key {
        GateKey::Z => z.clone(),
        GateKey::WeightedAbs(w) => {
            if w.shape() != [ch] {
                return Err(Error::shapes(
                    "cpr_gate",
                    z.shape(),
                    w.shape(),
                    "key weights must be [C]",
                ));
            }
            ew::abs(&ew::mul(z, w)?)?
        }
        GateKey::Given(k) => {
            if k.shape() != z.shape() {
                return Err(Error::shapes(
                    "cpr_gate",
                    z.shape(),
                    k.shape(),
                    "a given key must be shaped like z",
                ));
            }
            k.clone()
        }
    };
    let r = softrank::soft_rank(&key, cfg.method, cfg.strength)?;
    let (a, b) = rank_gate_affine(ch, 1.0 - cfg.rho, cfg.temperature);
    let gpu = z.gpu();
    let (c, n, m) = (
        Tensor::empty(gpu, z.shape())?,
        Tensor::empty(gpu, z.shape())?,
        Tensor::empty(gpu, z.shape())?,
    );
    let count = z.numel() as u32;
    let params = Params { count, a, b, _pad: 0 };
    gpu.launch(Launch {
        kernel: &FORWARD_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: uniform(&params),
        args: &[
            Arg::R(z.buf()),
            Arg::R(r.buf()),
            Arg::W(c.buf()),
            Arg::W(n.buf()),
            Arg::W(m.buf()),
        ],
        workgroups: grid_1d(count.div_ceil(WG) as u64),
    })?;
    let saved = |output| GateBackward {
        output,
        z: z.detach(),
        r: r.detach(),
        params,
    };
    let c = autograd::record(c, &[z, &r], || saved(Output::Causal));
    let n = autograd::record(n, &[z, &r], || saved(Output::NonCausal));
    let m = autograd::record(m, &[&r], || saved(Output::Mask));
    Ok((c, n, m))
}

/// The gate's three outputs; the backward kernel's `MODE` is the discriminant.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    /// c = m * z.
    Causal = 0,
    /// n = (1 - m) * z.
    NonCausal = 1,
    /// m itself, which does not depend on z.
    Mask = 2,
}

/// The backward kernel for one output: (dz, or None for the mask, dr).
fn gate_backward(
    output: Output,
    z: &Tensor,
    r: &Tensor,
    g: &Tensor,
    params: Params,
) -> Result<(Option<Tensor>, Tensor)> {
    let gpu = z.gpu();
    let dr = Tensor::empty(gpu, z.shape())?;
    // The mask's backward never touches dz: a one-element placeholder fills the binding.
    let mask = output == Output::Mask;
    let dz = Tensor::empty(gpu, if mask { &[1] } else { z.shape() })?;
    gpu.launch(Launch {
        kernel: &BACKWARD_V1,
        entry: "main",
        constants: &[("WG", WG as f64), ("MODE", output as u32 as f64)],
        params: uniform(&params),
        args: &[
            Arg::R(z.buf()),
            Arg::R(r.buf()),
            Arg::R(g.buf()),
            Arg::W(dr.buf()),
            Arg::W(dz.buf()),
        ],
        workgroups: grid_1d(params.count.div_ceil(WG) as u64),
    })?;
    Ok(((!mask).then_some(dz), dr))
}

struct GateBackward {
    output: Output,
    z: Tensor,
    r: Tensor,
    params: Params,
}

impl Backward for GateBackward {
    fn name(&self) -> &'static str {
        match self.output {
            Output::Causal => "cpr_gate (c)",
            Output::NonCausal => "cpr_gate (n)",
            Output::Mask => "cpr_gate (m)",
        }
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (dz, dr) = gate_backward(self.output, &self.z, &self.r, g, self.params)?;
        Ok(match dz {
            Some(dz) => vec![Some(dz), Some(dr)],
            None => vec![Some(dr)],
        })
    }
}
