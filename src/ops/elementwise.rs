//! Elementwise ops: binary arithmetic with broadcasting, activations and simple
//! unary maths, and `expand` (broadcast copy).
//!
//! Versions:
//! - `binary_v1`: any two broadcastable shapes (index decode per element).
//! - `binary_v2`: same shape and element count divisible by 4: vec4 per invocation.
//!   Chosen automatically when it applies (never slower: same work, fewer loads).
//! - `binary_v3`: one operand of the output's shape, the other varying along one block
//!   of dimensions with a multiple of 4 elements after it (a per-channel scale or
//!   shift of [B, C, H, W] maps, a scalar): vec4 per invocation, no index decode.
//!   Chosen automatically when it applies and V2 does not; on lavapipe a per-channel
//!   multiply of [32, 3, 128, 128] takes about a tenth of V1's time (benches/NOTES.md).
//! - `unary_forward_v1` / `unary_backward_v1`: one kernel per pass, the op an override.
//! - `expand_v1`: broadcast copy, the backward of the reductions.
//!
//! Bench: `cargo bench --bench kernels -- elementwise`.

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::ops::reduce;
use crate::shape::{MAX_RANK, broadcast_shape, broadcast_strides};
use crate::tensor::Tensor;

static BINARY_V1: Kernel = kernel!("binary_v1");
static BINARY_V2: Kernel = kernel!("binary_v2");
static BINARY_V3: Kernel = kernel!("binary_v3");
static UNARY_FORWARD_V1: Kernel = kernel!("unary_forward_v1");
static UNARY_BACKWARD_V1: Kernel = kernel!("unary_backward_v1");
static EXPAND_V1: Kernel = kernel!("expand_v1");
const WG: u32 = 256;

/// Binary arithmetic; the discriminant is the shaders' OP code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
}

/// Kernel versions of the binary ops (see the module header); `Auto` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BinaryVersion {
    /// The default: V2 when the shapes are equal and the count divides by 4, else V3
    /// where it applies, else V1.
    #[default]
    Auto,
    /// The naive port of the reference: any broadcast, an index decode per element.
    V1,
    /// Equal shapes, count divisible by 4: one vec4 per invocation.
    V2,
    /// One operand full, the other one block of dimensions (see [`channel_plan`]).
    V3,
}

/// Unary maths; the discriminant is the shaders' OP code. Arguments in `Unary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Affine = 0,
    Relu = 1,
    LeakyRelu = 2,
    Sigmoid = 3,
    Tanh = 4,
    Abs = 5,
    Square = 6,
    Sqrt = 7,
    Exp = 8,
    Log = 9,
    Sign = 10,
    Clamp = 11,
}

/// A unary op with its two arguments (`alpha`, `beta`; see `unary_forward_v1.wgsl`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unary {
    pub op: UnaryOp,
    pub alpha: f32,
    pub beta: f32,
}

impl Unary {
    #[must_use]
    pub fn new(op: UnaryOp) -> Unary {
        Unary {
            op,
            alpha: 0.0,
            beta: 0.0,
        }
    }
}

crate::uniform! {
    struct BroadcastParams {
        n: u32,
        rank: u32,
        _pad: [u32; 2],
        shape: [u32; MAX_RANK],
        sa: [u32; MAX_RANK],
        sb: [u32; MAX_RANK],
    }
}

crate::uniform! {
    /// binary_v2 reads four elements a thread, with no broadcasting.
    struct BinaryV2Params {
        n4: u32,
        _pad: [u32; 3],
    }
}

crate::uniform! {
    /// binary_v3: the full operand as vec4s, the small one indexed per vec4.
    struct BinaryV3Params {
        n4: u32,
        inner4: u32,
        mid: u32,
        _pad: u32,
    }
}

/// How binary_v3 runs `a op b`: which operand is the small one, how many elements it
/// has (`mid`) and how many output elements follow each of its elements (`inner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelPlan {
    pub small_is_a: bool,
    pub mid: usize,
    pub inner: usize,
}

/// The binary_v3 plan for these shapes, or None where V3 does not apply: one operand
/// must have the output's shape; the other, broadcast to it, must vary along one
/// block of consecutive dimensions in row-major order (size-1 dimensions anywhere),
/// with the elements after the block a multiple of 4. Equal shapes are left to V2.
pub fn channel_plan(a: &[usize], b: &[usize]) -> Option<ChannelPlan> {
    let out = broadcast_shape("binary", a, b).ok()?;
    if a == b {
        return None;
    }
    let (small_is_a, small) = if b == out.as_slice() {
        (true, a)
    } else if a == out.as_slice() {
        (false, b)
    } else {
        return None;
    };
    let st = broadcast_strides(small, &out);
    let varying: Vec<usize> = (0..out.len()).filter(|&d| st[d] != 0).collect();
    let (d0, d1) = match (varying.first(), varying.last()) {
        (Some(&f), Some(&l)) => (f, l + 1),
        // A scalar: the whole output is one block's inner part.
        _ => (0, 0),
    };
    // Inside the block, the small operand must be laid out as the output is.
    let mut expect = 1;
    for d in (d0..d1).rev() {
        if out[d] > 1 {
            if st[d] != expect {
                return None;
            }
            expect *= out[d];
        }
    }
    let mid: usize = out[d0..d1].iter().product();
    let inner: usize = out[d1..].iter().product();
    inner.is_multiple_of(4).then_some(ChannelPlan {
        small_is_a,
        mid,
        inner,
    })
}

impl ChannelPlan {
    /// Whether binary_v3 runs a workgroup row per row of `inner` elements (no lane
    /// divides) rather than a flat index: where a row fills a workgroup's vec4s and the
    /// rows fit the grid's x extent.
    pub fn row_grid(&self) -> bool {
        self.inner / 4 >= WG as usize && (self.inner / 4).div_ceil(WG as usize) <= 65_535
    }
}

fn pack(v: &[usize]) -> [u32; MAX_RANK] {
    let mut out = [0u32; MAX_RANK];
    for (o, &x) in out.iter_mut().zip(v) {
        *o = x as u32;
    }
    out
}

/// `a op b` with broadcasting, choosing the kernel version.
pub fn binary_with(op: BinaryOp, a: &Tensor, b: &Tensor, version: BinaryVersion) -> Result<Tensor> {
    let out_shape = broadcast_shape(op_name(op), a.shape(), b.shape())?;
    let gpu = a.gpu();
    let out = Tensor::empty(gpu, &out_shape)?;
    let n = out.numel();
    let same = a.shape() == b.shape();
    let v2_fits = same && n % 4 == 0;
    let plan = channel_plan(a.shape(), b.shape());
    let unfit = |why| Err(Error::shapes(op_name(op), a.shape(), b.shape(), why));
    let version = match version {
        BinaryVersion::Auto if v2_fits => BinaryVersion::V2,
        BinaryVersion::Auto if plan.is_some() => BinaryVersion::V3,
        BinaryVersion::Auto => BinaryVersion::V1,
        BinaryVersion::V2 if !v2_fits => {
            return unfit("binary_v2 needs equal shapes and a count divisible by 4");
        }
        BinaryVersion::V3 if plan.is_none() => {
            return unfit(
                "binary_v3 needs one operand of the output's shape and the other varying \
                 along one block of dimensions with a multiple of 4 elements after it",
            );
        }
        v => v,
    };
    let constants = [("WG", WG as f64), ("OP", op as u32 as f64)];
    if n > 0 && version == BinaryVersion::V3 {
        let plan = plan.expect("checked above");
        let (full, small) = if plan.small_is_a { (b, a) } else { (a, b) };
        let n4 = (n / 4) as u32;
        let inner4 = (plan.inner / 4) as u32;
        let row_grid = plan.row_grid();
        let workgroups = if row_grid {
            // x along a row, the rows over y (and z past 65535 of them).
            let [y, z, _] = grid_1d((n / plan.inner) as u64);
            [inner4.div_ceil(WG), y, z]
        } else {
            grid_1d(n4.div_ceil(WG) as u64)
        };
        gpu.launch(Launch {
            kernel: &BINARY_V3,
            entry: "main",
            constants: &[
                ("WG", WG as f64),
                ("OP", op as u32 as f64),
                ("SMALL_IS_A", plan.small_is_a as u32 as f64),
                ("ROW_GRID", row_grid as u32 as f64),
            ],
            params: uniform(&BinaryV3Params {
                n4,
                inner4,
                mid: plan.mid as u32,
                _pad: 0,
            }),
            args: &[Arg::R(full.buf()), Arg::R(small.buf()), Arg::W(out.buf())],
            workgroups,
        })?;
    } else if n > 0 && version == BinaryVersion::V2 {
        let n4 = (n / 4) as u32;
        gpu.launch(Launch {
            kernel: &BINARY_V2,
            entry: "main",
            constants: &constants,
            params: uniform(&BinaryV2Params { n4, _pad: [0; 3] }),
            args: &[Arg::R(a.buf()), Arg::R(b.buf()), Arg::W(out.buf())],
            workgroups: grid_1d(n4.div_ceil(WG) as u64),
        })?;
    } else if n > 0 {
        let p = BroadcastParams {
            n: n as u32,
            rank: out_shape.len() as u32,
            _pad: [0; 2],
            shape: pack(&out_shape),
            sa: pack(&broadcast_strides(a.shape(), &out_shape)),
            sb: pack(&broadcast_strides(b.shape(), &out_shape)),
        };
        gpu.launch(Launch {
            kernel: &BINARY_V1,
            entry: "main",
            constants: &constants,
            params: uniform(&p),
            args: &[Arg::R(a.buf()), Arg::R(b.buf()), Arg::W(out.buf())],
            workgroups: grid_1d((n as u32).div_ceil(WG) as u64),
        })?;
    }
    Ok(autograd::record(out, &[a, b], || BinaryBackward {
        op,
        a: a.clone(),
        b: b.clone(),
    }))
}

fn op_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
    }
}

/// `a + b`, broadcasting (e.g. a per-channel bias of shape [1, C, 1, 1]).
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary_with(BinaryOp::Add, a, b, BinaryVersion::Auto)
}
/// `a - b`, broadcasting.
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary_with(BinaryOp::Sub, a, b, BinaryVersion::Auto)
}
/// `a * b`, broadcasting.
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary_with(BinaryOp::Mul, a, b, BinaryVersion::Auto)
}
/// `a / b`, broadcasting.
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary_with(BinaryOp::Div, a, b, BinaryVersion::Auto)
}

struct BinaryBackward {
    op: BinaryOp,
    a: Tensor,
    b: Tensor,
}

impl Backward for BinaryBackward {
    fn name(&self) -> &'static str {
        op_name(self.op)
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // out = a op b  =>  da = sum_to(g * dout/da, a.shape), db likewise.
        let (a, b) = (&self.a, &self.b);
        let da = if needs[0] {
            let full = match self.op {
                BinaryOp::Add | BinaryOp::Sub => g.clone(),
                BinaryOp::Mul => mul(g, b)?,
                BinaryOp::Div => div(g, b)?,
            };
            Some(reduce::sum_to(&full, a.shape())?)
        } else {
            None
        };
        let db = if needs[1] {
            let full = match self.op {
                BinaryOp::Add => g.clone(),
                BinaryOp::Sub => scale(g, -1.0)?,
                BinaryOp::Mul => mul(g, a)?,
                // d(a/b)/db = -a / b^2
                BinaryOp::Div => scale(&div(&mul(g, a)?, &mul(b, b)?)?, -1.0)?,
            };
            Some(reduce::sum_to(&full, b.shape())?)
        } else {
            None
        };
        Ok(vec![da, db])
    }
}

crate::uniform! {
    struct UnaryParams {
        n: u32,
        alpha: f32,
        beta: f32,
        _pad: u32,
    }
}

/// `f(x)` elementwise.
pub fn unary(x: &Tensor, f: Unary) -> Result<Tensor> {
    let out = Tensor::empty(x.gpu(), x.shape())?;
    let n = x.numel() as u32;
    x.gpu().launch(Launch {
        kernel: &UNARY_FORWARD_V1,
        entry: "main",
        constants: &[("WG", WG as f64), ("OP", f.op as u32 as f64)],
        params: uniform(&UnaryParams {
            n,
            alpha: f.alpha,
            beta: f.beta,
            _pad: 0,
        }),
        args: &[Arg::R(x.buf()), Arg::W(out.buf())],
        workgroups: grid_1d(n.div_ceil(WG) as u64),
    })?;
    let saved_y = out.detach();
    Ok(autograd::record(out, &[x], || UnaryBackward {
        f,
        x: x.clone(),
        y: saved_y,
    }))
}

/// The backward kernel of `unary`: `g * f'(x)` (y is the forward output).
pub fn unary_backward(f: Unary, x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Tensor> {
    let dx = Tensor::empty(x.gpu(), x.shape())?;
    let n = x.numel() as u32;
    x.gpu().launch(Launch {
        kernel: &UNARY_BACKWARD_V1,
        entry: "main",
        constants: &[("WG", WG as f64), ("OP", f.op as u32 as f64)],
        params: uniform(&UnaryParams {
            n,
            alpha: f.alpha,
            beta: f.beta,
            _pad: 0,
        }),
        args: &[
            Arg::R(x.buf()),
            Arg::R(y.buf()),
            Arg::R(g.buf()),
            Arg::W(dx.buf()),
        ],
        workgroups: grid_1d(n.div_ceil(WG) as u64),
    })?;
    Ok(dx)
}

struct UnaryBackward {
    f: Unary,
    x: Tensor,
    y: Tensor,
}

impl Backward for UnaryBackward {
    fn name(&self) -> &'static str {
        "unary"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(unary_backward(self.f, &self.x, &self.y, g)?)])
    }
}

/// `s * x`.
pub fn scale(x: &Tensor, s: f32) -> Result<Tensor> {
    affine(x, s, 0.0)
}
/// `alpha * x + beta`.
pub fn affine(x: &Tensor, alpha: f32, beta: f32) -> Result<Tensor> {
    unary(
        x,
        Unary {
            op: UnaryOp::Affine,
            alpha,
            beta,
        },
    )
}
pub fn relu(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::new(UnaryOp::Relu))
}
/// `x > 0 ? x : slope * x`.
pub fn leaky_relu(x: &Tensor, slope: f32) -> Result<Tensor> {
    unary(
        x,
        Unary {
            op: UnaryOp::LeakyRelu,
            alpha: slope,
            beta: 0.0,
        },
    )
}
pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::new(UnaryOp::Sigmoid))
}
pub fn tanh(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::new(UnaryOp::Tanh))
}
pub fn abs(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::new(UnaryOp::Abs))
}
pub fn square(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::new(UnaryOp::Square))
}
pub fn sqrt(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::new(UnaryOp::Sqrt))
}
pub fn exp(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::new(UnaryOp::Exp))
}
pub fn log(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::new(UnaryOp::Log))
}
/// Sign, with zero gradient (FGSM steps use it on gradients, never differentiate it).
pub fn sign(x: &Tensor) -> Result<Tensor> {
    unary(x, Unary::new(UnaryOp::Sign))
}
/// `clamp(x, lo, hi)`; the gradient passes on [lo, hi].
pub fn clamp(x: &Tensor, lo: f32, hi: f32) -> Result<Tensor> {
    unary(
        x,
        Unary {
            op: UnaryOp::Clamp,
            alpha: lo,
            beta: hi,
        },
    )
}

crate::uniform! {
    struct ExpandParams {
        n: u32,
        rank: u32,
        _pad: [u32; 2],
        shape: [u32; MAX_RANK],
        sx: [u32; MAX_RANK],
    }
}

/// Broadcast copy of `x` to `shape` (NumPy rules).
pub fn expand(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let full = broadcast_shape("expand", x.shape(), shape)?;
    if full != shape {
        return Err(Error::shapes(
            "expand",
            x.shape(),
            shape,
            "the target must be a broadcast of the input",
        ));
    }
    let out = Tensor::empty(x.gpu(), shape)?;
    let n = out.numel() as u32;
    let p = ExpandParams {
        n,
        rank: shape.len() as u32,
        _pad: [0; 2],
        shape: pack(shape),
        sx: pack(&broadcast_strides(x.shape(), shape)),
    };
    x.gpu().launch(Launch {
        kernel: &EXPAND_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: uniform(&p),
        args: &[Arg::R(x.buf()), Arg::W(out.buf())],
        workgroups: grid_1d(n.div_ceil(WG) as u64),
    })?;
    let from = x.shape().to_vec();
    Ok(autograd::record(out, &[x], move || ExpandBackward { from }))
}

struct ExpandBackward {
    from: Vec<usize>,
}

impl Backward for ExpandBackward {
    fn name(&self) -> &'static str {
        "expand"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(reduce::sum_to(g, &self.from)?)])
    }
}
