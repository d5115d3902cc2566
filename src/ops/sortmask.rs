//! SortMask (docs/METHOD.md section 1, "SortMask"; the journal version): "blocks small
//! changes around the mean". On feature maps [B, C, H, W], per sample and channel (a
//! row of n = H * W):
//!
//! ```text
//! mu = mean(F);  d = |F - mu|;  r = soft_rank(d) ascending;
//! u = (r - 1) / (n - 1) (u = 1 when n = 1);  g = sigmoid((u - q) / T);
//! out = mu + (F - mu) * g.
//! ```
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
//! Versions (each of the four kernels, `sortmask_{deviation,apply}_{forward,backward}_vN`):
//! - V1: the row reductions by one workgroup per row (256 lanes, a tree in workgroup
//!   memory); apply forward one invocation per element.
//! - V2: one invocation per row with vec4 loads and no barriers. Needs n % 4 == 0.
//!   3-4x faster than V1 on lavapipe at [2048, 3136].
//! - Auto (default): `ops::tune::choose` per kernel among the versions that apply,
//!   keyed on bucketed (rows, n); V2 first on CPU adapters, V1 first elsewhere.
//!
//! Bench: `cargo bench --bench kernels -- sortmask`.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::gate::rank_gate_affine;
use crate::ops::softrank::{self, Method, NetworkKind, Regularization, Relaxation};
use crate::ops::tune;
use crate::tensor::Tensor;

static DEVIATION_FORWARD_V1: Kernel = kernel!("sortmask_deviation_forward_v1");
static DEVIATION_BACKWARD_V1: Kernel = kernel!("sortmask_deviation_backward_v1");
static APPLY_FORWARD_V1: Kernel = kernel!("sortmask_apply_forward_v1");
static APPLY_BACKWARD_V1: Kernel = kernel!("sortmask_apply_backward_v1");
static DEVIATION_FORWARD_V2: Kernel = kernel!("sortmask_deviation_forward_v2");
static DEVIATION_BACKWARD_V2: Kernel = kernel!("sortmask_deviation_backward_v2");
static APPLY_FORWARD_V2: Kernel = kernel!("sortmask_apply_forward_v2");
static APPLY_BACKWARD_V2: Kernel = kernel!("sortmask_apply_backward_v2");

/// Kernel versions of SortMask's four kernels (see the module header); `Auto` is the
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortMaskVersion {
    /// The default: chosen by measurement per kernel among the versions that apply.
    #[default]
    Auto,
    /// The naive port of the reference: one workgroup per row, a tree in workgroup memory.
    V1,
    /// One invocation per row, vec4 loads, no barriers; needs n % 4 == 0.
    V2,
}

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
    #[must_use]
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

crate::uniform! {
    struct RowParams {
        rows: u32,
        n: u32,
        a: f32,
        b: f32,
    }
}

crate::uniform! {
    struct ElementParams {
        count: u32,
        n: u32,
        a: f32,
        b: f32,
    }
}

/// The four kernels.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    DeviationForward,
    DeviationBackward,
    ApplyForward,
    ApplyBackward,
}

impl Pass {
    fn name(self) -> &'static str {
        match self {
            Pass::DeviationForward => "sortmask_deviation_forward",
            Pass::DeviationBackward => "sortmask_deviation_backward",
            Pass::ApplyForward => "sortmask_apply_forward",
            Pass::ApplyBackward => "sortmask_apply_backward",
        }
    }
}

/// Records one kernel of `pass` in `version` (V1 or V2) on `args` (its bindings in order).
fn launch(pass: Pass, version: SortMaskVersion, p: RowParams, args: &[Arg], gpu: &crate::Gpu) -> Result<()> {
    let (rows, n) = (p.rows as u64, p.n as u64);
    let v2 = version == SortMaskVersion::V2;
    // apply_forward_v1 is elementwise: it reads the element count where the others
    // read rows. (The deviation passes leave a and b as padding.)
    let elementwise = ElementParams {
        count: (rows * n) as u32,
        n: p.n,
        a: p.a,
        b: p.b,
    };
    let (kernel, wg, groups) = match (pass, v2) {
        (Pass::DeviationForward, false) => (&DEVIATION_FORWARD_V1, 256, rows),
        (Pass::DeviationBackward, false) => (&DEVIATION_BACKWARD_V1, 256, rows),
        (Pass::ApplyBackward, false) => (&APPLY_BACKWARD_V1, 256, rows),
        (Pass::ApplyForward, false) => (&APPLY_FORWARD_V1, 256, (rows * n).div_ceil(256)),
        (Pass::DeviationForward, true) => (&DEVIATION_FORWARD_V2, 64, rows.div_ceil(64)),
        (Pass::DeviationBackward, true) => (&DEVIATION_BACKWARD_V2, 64, rows.div_ceil(64)),
        (Pass::ApplyBackward, true) => (&APPLY_BACKWARD_V2, 64, rows.div_ceil(64)),
        (Pass::ApplyForward, true) => (&APPLY_FORWARD_V2, 64, rows.div_ceil(64)),
    };
    let params = if (pass, v2) == (Pass::ApplyForward, false) {
        uniform(&elementwise)
    } else {
        uniform(&p)
    };
    gpu.launch(Launch {
        kernel,
        entry: "main",
        constants: &[("WG", wg as f64)],
        params,
        args,
        workgroups: grid_1d(groups),
    })
}

/// The concrete version of `pass` for rows of n: V2 needs n % 4 == 0; Auto measures.
fn resolve(
    pass: Pass,
    version: SortMaskVersion,
    gpu: &crate::Gpu,
    rows: usize,
    n: usize,
    mut run: impl FnMut(SortMaskVersion) -> Result<()>,
) -> Result<SortMaskVersion> {
    let v2_fits = n.is_multiple_of(4);
    match version {
        SortMaskVersion::V2 if !v2_fits => Err(Error::shape(
            "sortmask",
            format!("version V2 needs rows of a multiple of 4 elements, got {n}"),
        )),
        SortMaskVersion::Auto if !v2_fits => Ok(SortMaskVersion::V1),
        SortMaskVersion::Auto => {
            let cands = if gpu.is_cpu() {
                [SortMaskVersion::V2, SortMaskVersion::V1]
            } else {
                [SortMaskVersion::V1, SortMaskVersion::V2]
            };
            let key = format!("rows={},n={}", tune::bucket(rows), tune::bucket(n));
            tune::choose(gpu, pass.name(), &key, &cands, &mut run)
        }
        v => Ok(v),
    }
}

/// SortMask of feature maps `f` ([B, C, H, W]).
pub fn sortmask(f: &Tensor, cfg: &SortMaskConfig) -> Result<Tensor> {
    sortmask_with(f, cfg, SortMaskVersion::Auto)
}

/// [`sortmask`] with chosen kernel versions (tests, benchmark).
pub fn sortmask_with(f: &Tensor, cfg: &SortMaskConfig, version: SortMaskVersion) -> Result<Tensor> {
    if f.dims() != 4 {
        return Err(Error::shape(
            "sortmask",
            format!("expected [B, C, H, W], got {:?}", f.shape()),
        ));
    }
    if !(cfg.temperature > 0.0 && cfg.temperature.is_finite()) {
        return Err(Error::Invalid(format!(
            "sortmask: T must be positive, got {}",
            cfg.temperature
        )));
    }
    let s = f.shape();
    let (rows, n) = (s[0] * s[1], s[2] * s[3]);
    if rows * n == 0 {
        return Tensor::empty(f.gpu(), s);
    }
    let f2 = f.reshape(&[rows, n])?;
    let (d, mu) = sortmask_deviation(&f2, version)?;
    let r = softrank::soft_rank(&d, cfg.method, cfg.strength)?;
    sortmask_apply(&f2, &mu, &r, cfg, version)?.reshape(s)
}

/// The last step on rows ([rows, n]): `out = mu + (f - mu) * sigmoid((u - q) / T)` with
/// u from the ranks `r`; `mu` must be `sortmask_deviation(f).1` (its gradient is folded
/// into f's). Recorded with inputs (f, r).
pub fn sortmask_apply(
    f: &Tensor,
    mu: &Tensor,
    r: &Tensor,
    cfg: &SortMaskConfig,
    version: SortMaskVersion,
) -> Result<Tensor> {
    if f.dims() != 2 || r.shape() != f.shape() || mu.shape() != [f.dim(0)] {
        return Err(Error::shapes(
            "sortmask_apply",
            f.shape(),
            r.shape(),
            "rows f, ranks r and means [rows]",
        ));
    }
    let (rows, n) = (f.dim(0), f.dim(1));
    let gpu = f.gpu();
    let out = Tensor::empty(gpu, &[rows, n])?;
    if rows * n == 0 {
        return Ok(out);
    }
    let (a, b) = rank_gate_affine(n, cfg.quantile, cfg.temperature);
    let p = RowParams {
        rows: rows as u32,
        n: n as u32,
        a,
        b,
    };
    let run = |v, out: &Tensor| {
        launch(
            Pass::ApplyForward,
            v,
            p,
            &[
                Arg::R(f.buf()),
                Arg::R(mu.buf()),
                Arg::R(r.buf()),
                Arg::W(out.buf()),
            ],
            gpu,
        )
    };
    let v = resolve(Pass::ApplyForward, version, gpu, rows, n, |v| {
        run(v, &Tensor::empty(gpu, &[rows, n])?)
    })?;
    run(v, &out)?;
    Ok(autograd::record(out, &[f, r], || ApplyBackward {
        f: f.detach(),
        mu: mu.detach(),
        r: r.detach(),
        p,
        version,
    }))
}

/// The first step on rows ([rows, n]): d = |f - mean(f)| (recorded) and the means
/// (not recorded: `sortmask_apply` folds their gradient into f's).
pub fn sortmask_deviation(f: &Tensor, version: SortMaskVersion) -> Result<(Tensor, Tensor)> {
    if f.dims() != 2 {
        return Err(Error::shape(
            "sortmask_deviation",
            format!("expected [rows, n], got {:?}", f.shape()),
        ));
    }
    let (rows, n) = (f.dim(0), f.dim(1));
    let gpu = f.gpu();
    let d = Tensor::empty(gpu, f.shape())?;
    let mu = Tensor::empty(gpu, &[rows])?;
    if rows * n == 0 {
        return Ok((d, mu));
    }
    let p = RowParams {
        rows: rows as u32,
        n: n as u32,
        a: 0.0,
        b: 0.0,
    };
    let run = |v, d: &Tensor, mu: &Tensor| {
        launch(
            Pass::DeviationForward,
            v,
            p,
            &[Arg::R(f.buf()), Arg::W(d.buf()), Arg::W(mu.buf())],
            gpu,
        )
    };
    let v = resolve(Pass::DeviationForward, version, gpu, rows, n, |v| {
        run(v, &Tensor::empty(gpu, f.shape())?, &Tensor::empty(gpu, &[rows])?)
    })?;
    run(v, &d, &mu)?;
    let d = autograd::record(d, &[f], || DeviationBackward {
        f: f.detach(),
        mu: mu.clone(),
        p,
        version,
    });
    Ok((d, mu))
}

struct DeviationBackward {
    f: Tensor,
    mu: Tensor,
    p: RowParams,
    version: SortMaskVersion,
}

impl Backward for DeviationBackward {
    fn name(&self) -> &'static str {
        "sortmask (deviation)"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let gpu = g.gpu();
        let (rows, n) = (self.p.rows as usize, self.p.n as usize);
        let run = |v, df: &Tensor| {
            launch(
                Pass::DeviationBackward,
                v,
                self.p,
                &[
                    Arg::R(self.f.buf()),
                    Arg::R(self.mu.buf()),
                    Arg::R(g.buf()),
                    Arg::W(df.buf()),
                ],
                gpu,
            )
        };
        let v = resolve(Pass::DeviationBackward, self.version, gpu, rows, n, |v| {
            run(v, &Tensor::empty(gpu, self.f.shape())?)
        })?;
        let df = Tensor::empty(gpu, self.f.shape())?;
        run(v, &df)?;
        Ok(vec![Some(df)])
    }
}

struct ApplyBackward {
    f: Tensor,
    mu: Tensor,
    r: Tensor,
    p: RowParams,
    version: SortMaskVersion,
}

impl Backward for ApplyBackward {
    fn name(&self) -> &'static str {
        "sortmask (apply)"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let gpu = g.gpu();
        let (rows, n) = (self.p.rows as usize, self.p.n as usize);
        let run = |v, df: &Tensor, dr: &Tensor| {
            launch(
                Pass::ApplyBackward,
                v,
                self.p,
                &[
                    Arg::R(self.f.buf()),
                    Arg::R(self.mu.buf()),
                    Arg::R(self.r.buf()),
                    Arg::R(g.buf()),
                    Arg::W(df.buf()),
                    Arg::W(dr.buf()),
                ],
                gpu,
            )
        };
        let v = resolve(Pass::ApplyBackward, self.version, gpu, rows, n, |v| {
            run(
                v,
                &Tensor::empty(gpu, self.f.shape())?,
                &Tensor::empty(gpu, self.f.shape())?,
            )
        })?;
        let df = Tensor::empty(gpu, self.f.shape())?;
        let dr = Tensor::empty(gpu, self.f.shape())?;
        run(v, &df, &dr)?;
        Ok(vec![Some(df), Some(dr)])
    }
}
