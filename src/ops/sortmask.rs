//! SortMask (DESIGN.md section 1, journal version): "blocks small changes around the
//! mean". On feature maps [B, C, H, W], per sample and channel (a row of n = H * W):
//!
//!     mu = mean(F);  d = |F - mu|;  r = soft_rank(d) ascending;
//!     u = (r - 1) / (n - 1) (u = 1 when n = 1);  g = sigmoid((u - q) / T);
//!     out = mu + (F - mu) * g.
//!
//! Composition, three recorded steps: `sortmask_deviation` (one workgroup per row:
//! mean by a fixed tree, then d; its backward folds in the mean), the soft rank of d
//! with the configured method (its own kernels and backward), and `sortmask_apply`
//! (elementwise forward; a one-workgroup-per-row backward giving dF, through mu too,
//! and dr). The rank over n = H * W (3136 at 56 x 56) for B * C rows dominates: use the
//! fastest method for the shape, PAV, then the bitonic network (O(n log^2 n));
//! pairwise is O(n^2) per row (SortMask at [32, 64, 56, 56] would cost 2e10 sigmoids).
//! `strength` acts on the scale of d (the feature deviations).
//!
//! Versions:
//! - `sortmask_{deviation,apply}_{forward,backward}_v1.wgsl`.
//!
//! Bench: `cargo bench --bench kernels -- sortmask`.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d};
use crate::kernel;
use crate::ops::gate::rank_gate_affine;
use crate::ops::softrank::{self, Method, NetworkKind, Regularization, Relaxation};
use crate::tensor::Tensor;

static DEVIATION_FORWARD_V1: Kernel = kernel!("sortmask_deviation_forward_v1");
static DEVIATION_BACKWARD_V1: Kernel = kernel!("sortmask_deviation_backward_v1");
static APPLY_FORWARD_V1: Kernel = kernel!("sortmask_apply_forward_v1");
static APPLY_BACKWARD_V1: Kernel = kernel!("sortmask_apply_backward_v1");
const WG: u32 = 256;

/// Settings of [`sortmask`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SortMaskConfig {
    /// q_s: share of positions (by deviation) pulled to the mean.
    pub quantile: f32,
    /// T_s.
    pub temperature: f32,
    pub method: Method,
    pub strength: f32,
}

impl Default for SortMaskConfig {
    /// q_s 0.5, T_s 0.05, PAV (l2) ranks at torchsort's default strength 1 (the
    /// fastest method for thousands of positions; [`SortMaskConfig::network`] is the
    /// next best).
    fn default() -> Self {
        SortMaskConfig {
            quantile: 0.5,
            temperature: 0.05,
            method: Method::Pav(Regularization::L2),
            strength: 1.0,
        }
    }
}

impl SortMaskConfig {
    /// The defaults with the bitonic logistic network at `strength` (O(n log^2 n) per row).
    pub fn network(strength: f32) -> Self {
        SortMaskConfig {
            method: Method::Network {
                kind: NetworkKind::Bitonic,
                relaxation: Relaxation::Logistic,
            },
            strength,
            ..Default::default()
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RowParams {
    rows: u32,
    n: u32,
    a: f32,
    b: f32,
}

/// SortMask of feature maps `f` ([B, C, H, W]).
pub fn sortmask(f: &Tensor, cfg: &SortMaskConfig) -> Result<Tensor> {
    if f.dims() != 4 {
        return Err(Error::shape("sortmask", format!("expected [B, C, H, W], got {:?}", f.shape())));
    }
    if !(cfg.temperature > 0.0 && cfg.temperature.is_finite()) {
        return Err(Error::Invalid(format!("sortmask: T must be positive, got {}", cfg.temperature)));
    }
    let s = f.shape();
    let (rows, n) = (s[0] * s[1], s[2] * s[3]);
    if rows * n == 0 {
        return Tensor::empty(f.gpu(), s);
    }
    let f2 = f.reshape(&[rows, n])?;
    let (d, mu) = deviation(&f2)?;
    let r = softrank::soft_rank(&d, cfg.method, cfg.strength)?;
    let (a, b) = rank_gate_affine(n, cfg.quantile, cfg.temperature);
    let p = RowParams {
        rows: rows as u32,
        n: n as u32,
        a,
        b,
    };
    let gpu = f.gpu();
    let out = Tensor::empty(gpu, &[rows, n])?;
    let count = (rows * n) as u32;
    gpu.launch(Launch {
        kernel: &APPLY_FORWARD_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        // Params of the elementwise forward: count, n, a, b.
        params: bytemuck::bytes_of(&RowParams { rows: count, ..p }),
        args: &[
            Arg::R(f2.buf()),
            Arg::R(mu.buf()),
            Arg::R(r.buf()),
            Arg::W(out.buf()),
        ],
        workgroups: grid_1d(count.div_ceil(WG) as u64),
    })?;
    let out = autograd::record(out, &[&f2, &r], || ApplyBackward {
        f: f2.detach(),
        mu: mu.clone(),
        r: r.detach(),
        p,
    });
    out.reshape(s)
}

/// d = |f - mean(f)| per row of f ([rows, n]), recorded; and the means (not recorded).
fn deviation(f: &Tensor) -> Result<(Tensor, Tensor)> {
    let (rows, n) = (f.dim(0), f.dim(1));
    let gpu = f.gpu();
    let d = Tensor::empty(gpu, f.shape())?;
    let mu = Tensor::empty(gpu, &[rows])?;
    gpu.launch(Launch {
        kernel: &DEVIATION_FORWARD_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: bytemuck::bytes_of(&[rows as u32, n as u32, 0, 0]),
        args: &[Arg::R(f.buf()), Arg::W(d.buf()), Arg::W(mu.buf())],
        workgroups: grid_1d(rows as u64),
    })?;
    let d = autograd::record(d, &[f], || DeviationBackward {
        f: f.detach(),
        mu: mu.clone(),
    });
    Ok((d, mu))
}

struct DeviationBackward {
    f: Tensor,
    mu: Tensor,
}

impl Backward for DeviationBackward {
    fn name(&self) -> &'static str {
        "sortmask (deviation)"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (rows, n) = (self.f.dim(0), self.f.dim(1));
        let gpu = g.gpu();
        let df = Tensor::empty(gpu, self.f.shape())?;
        gpu.launch(Launch {
            kernel: &DEVIATION_BACKWARD_V1,
            entry: "main",
            constants: &[("WG", WG as f64)],
            params: bytemuck::bytes_of(&[rows as u32, n as u32, 0, 0]),
            args: &[
                Arg::R(self.f.buf()),
                Arg::R(self.mu.buf()),
                Arg::R(g.buf()),
                Arg::W(df.buf()),
            ],
            workgroups: grid_1d(rows as u64),
        })?;
        Ok(vec![Some(df)])
    }
}

struct ApplyBackward {
    f: Tensor,
    mu: Tensor,
    r: Tensor,
    p: RowParams,
}

impl Backward for ApplyBackward {
    fn name(&self) -> &'static str {
        "sortmask (apply)"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let gpu = g.gpu();
        let df = Tensor::empty(gpu, self.f.shape())?;
        let dr = Tensor::empty(gpu, self.f.shape())?;
        gpu.launch(Launch {
            kernel: &APPLY_BACKWARD_V1,
            entry: "main",
            constants: &[("WG", WG as f64)],
            params: bytemuck::bytes_of(&self.p),
            args: &[
                Arg::R(self.f.buf()),
                Arg::R(self.mu.buf()),
                Arg::R(self.r.buf()),
                Arg::R(g.buf()),
                Arg::W(df.buf()),
                Arg::W(dr.buf()),
            ],
            workgroups: grid_1d(self.p.rows as u64),
        })?;
        Ok(vec![Some(df), Some(dr)])
    }
}
