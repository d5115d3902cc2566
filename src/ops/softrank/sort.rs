//! Hard sort, argsort, top-k and hard ranks along the last axis (evaluation,
//! explanations, and the strength -> 0 limit of the soft ranks).
//!
//! Order: values compare by IEEE total order (-0 before +0; NaNs at the ends by sign,
//! where the backend keeps NaN bits); `Descending` reverses it. Ties keep their input
//! order in both directions (lower index first): the sort is stable. Indices come
//! back as f32 tensors (exact: rows are at most 2^18 elements).
//!
//! Versions:
//! - V1 (`sort_forward_v1.wgsl`): bitonic network of the next power of two with the
//!   comparators that reach past n dropped (any n), one workgroup per row on
//!   (key, index) pairs in a storage scratch, storageBarrier between layers, the
//!   layers split over dispatches under llvmpipe's loop cap; then a gather. 32 lanes
//!   per row on CPU adapters (as the network soft ranks, see their notes), up to 256
//!   elsewhere.
//!   Backward of the values (`sort_backward_v1.wgsl`): scatter `g` to the indices.
//!
//! Bench: `cargo bench --bench kernels -- sort.`.

use super::Order;
use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::tensor::Tensor;

static FORWARD_V1: Kernel = kernel!("sort_forward_v1");
static BACKWARD_V1: Kernel = kernel!("sort_backward_v1");
/// Loop iterations one invocation may run in a dispatch (llvmpipe stops at 65,535).
const LOOP_BUDGET: usize = 50_000;
/// Longest row (tested at this size; datasets' score lists are far shorter).
pub const MAX_N: usize = 1 << 18;

/// Sorted (or top-k) values and their input indices, same shape.
#[derive(Debug, Clone)]
pub struct Sorted {
    pub values: Tensor,
    pub indices: Tensor,
}

crate::uniform! {
    struct Params {
        rows: u32,
        n: u32,
        pairs: u32,
        l0: u32,
        l1: u32,
        kout: u32,
        desc: u32,
        _pad: u32,
    }
}

crate::uniform! {
    struct BackwardParams {
        rows: u32,
        n: u32,
        kout: u32,
        _p0: u32,
    }
}

/// Rows view of `x` ([.., n] -> [rows, n]).
fn rows_of(op: &'static str, x: &Tensor) -> Result<(usize, usize)> {
    if x.dims() == 0 {
        return Err(Error::shape(op, "a scalar has no axis to sort along"));
    }
    let n = x.dim(-1);
    if n > MAX_N {
        return Err(Error::shape(
            op,
            format!("rows of {n} elements are above the limit of {MAX_N}"),
        ));
    }
    Ok((x.numel().checked_div(n).unwrap_or(0), n))
}

/// Sorted (key, index) pairs of every row: [rows, n] pairs in a scratch tensor.
fn sort_keys(x: &Tensor, rows: usize, n: usize, order: Order) -> Result<(Tensor, Params)> {
    let gpu = x.gpu();
    let keys = Tensor::empty(gpu, &[rows * n * 2])?;
    let big = n.max(1).next_power_of_two();
    let lg = big.trailing_zeros() as usize;
    let layers = lg * (lg + 1) / 2;
    let pairs = big / 2;
    // Lanes per row: 32 on CPU drivers, where a barrier costs per lane, unless the row
    // needs more to keep the loading loop short; up to 256 elsewhere.
    let wg = if gpu.launch_as_cpu() {
        n.div_ceil(16384).next_power_of_two().clamp(32, 256)
    } else {
        pairs.max(1).next_power_of_two().clamp(32, 256)
    };
    // Per invocation: the load (n / wg) and, per layer, 1 + pairs / wg iterations.
    let step = ((LOOP_BUDGET - n.div_ceil(wg)) / (1 + pairs.div_ceil(wg))).max(1);
    let mut p = Params {
        rows: rows as u32,
        n: n as u32,
        pairs: pairs as u32,
        l0: 0,
        l1: 0,
        kout: n as u32,
        desc: (order == Order::Descending) as u32,
        _pad: 0,
    };
    let mut l0 = 0;
    loop {
        let l1 = (l0 + step).min(layers);
        p.l0 = l0 as u32;
        p.l1 = l1 as u32;
        gpu.launch(Launch {
            kernel: &FORWARD_V1,
            entry: "layers",
            constants: &[("WG", wg as f64)],
            params: uniform(&p),
            args: &[Arg::R(x.buf()), Arg::W(keys.buf())],
            workgroups: grid_1d(rows as u64),
        })?;
        l0 = l1;
        if l0 >= layers {
            break;
        }
    }
    Ok((keys, p))
}

/// What a gather pass writes; the kernel's `MODE` is the discriminant.
#[derive(Clone, Copy)]
enum Gather {
    /// The first kout sorted values of each row, [rows, kout].
    Values = 0,
    /// Their indices, [rows, kout].
    Indices = 1,
    /// Each element's rank, [rows, n].
    Ranks = 2,
}

/// One gather pass over sorted keys.
fn gather(
    x: &Tensor,
    keys: &Tensor,
    mut p: Params,
    kout: usize,
    what: Gather,
    shape: &[usize],
) -> Result<Tensor> {
    let gpu = x.gpu();
    let out = Tensor::empty(gpu, shape)?;
    p.kout = kout as u32;
    let count = (p.rows as u64) * kout as u64;
    gpu.launch(Launch {
        kernel: &FORWARD_V1,
        entry: "gather",
        constants: &[("WG", 256.0), ("MODE", what as u32 as f64)],
        params: uniform(&p),
        args: &[Arg::R(x.buf()), Arg::W(keys.buf()), Arg::W(out.buf())],
        workgroups: grid_1d(count.div_ceil(256)),
    })?;
    Ok(out)
}

/// The first `k` of every row of `x` (last axis) in `order`: values (differentiable)
/// and indices, shaped `[.., k]`. `Descending` gives the k largest.
pub fn top_k(x: &Tensor, k: usize, order: Order) -> Result<Sorted> {
    let (rows, n) = rows_of("top_k", x)?;
    if k > n {
        return Err(Error::shape(
            "top_k",
            format!("k = {k} is above the row length of {:?}", x.shape()),
        ));
    }
    let mut shape = x.shape().to_vec();
    *shape.last_mut().expect("rank >= 1") = k;
    if rows * k == 0 {
        return Ok(Sorted {
            values: Tensor::empty(x.gpu(), &shape)?,
            indices: Tensor::empty(x.gpu(), &shape)?,
        });
    }
    let (keys, p) = sort_keys(x, rows, n, order)?;
    let values = gather(x, &keys, p, k, Gather::Values, &shape)?;
    let indices = gather(x, &keys, p, k, Gather::Indices, &shape)?;
    let values = autograd::record(values, &[x], || TopKBackward {
        indices: indices.clone(),
        shape: x.shape().to_vec(),
    });
    Ok(Sorted { values, indices })
}

/// Every row of `x` sorted (last axis), with the input indices.
pub fn sort(x: &Tensor, order: Order) -> Result<Sorted> {
    let n = if x.dims() == 0 { 0 } else { x.dim(-1) };
    top_k(x, n, order)
}

/// The input indices of every row in sorted order (f32).
pub fn argsort(x: &Tensor, order: Order) -> Result<Tensor> {
    let (rows, n) = rows_of("argsort", x)?;
    if rows * n == 0 {
        return Tensor::empty(x.gpu(), x.shape());
    }
    let (keys, p) = sort_keys(x, rows, n, order)?;
    gather(x, &keys, p, n, Gather::Indices, x.shape())
}

/// Hard ranks 1..n of every row (last axis) in `order` (ascending: the smallest value
/// gets 1), ties broken by index as in [`sort`]. Not differentiable.
pub fn hard_rank(x: &Tensor, order: Order) -> Result<Tensor> {
    let (rows, n) = rows_of("hard_rank", x)?;
    if rows * n == 0 {
        return Tensor::empty(x.gpu(), x.shape());
    }
    let (keys, p) = sort_keys(x, rows, n, order)?;
    gather(x, &keys, p, n, Gather::Ranks, x.shape())
}

/// `dx` of the top-k values: `g` scattered to the indices, zero elsewhere.
pub fn top_k_backward(indices: &Tensor, g: &Tensor, x_shape: &[usize]) -> Result<Tensor> {
    if indices.shape() != g.shape() {
        return Err(Error::shapes(
            "top_k backward",
            indices.shape(),
            g.shape(),
            "indices vs gradient",
        ));
    }
    let gpu = g.gpu();
    let n = *x_shape.last().unwrap_or(&0);
    let k = if g.dims() == 0 { 0 } else { g.dim(-1) };
    let rows = g.numel().checked_div(k).unwrap_or(0);
    let dx = if k == n {
        Tensor::empty(gpu, x_shape)?
    } else {
        Tensor::zeros(gpu, x_shape)?
    };
    let params = BackwardParams {
        rows: rows as u32,
        n: n as u32,
        kout: k as u32,
        _p0: 0,
    };
    gpu.launch(Launch {
        kernel: &BACKWARD_V1,
        entry: "main",
        constants: &[("WG", 256.0)],
        params: uniform(&params),
        args: &[Arg::R(indices.buf()), Arg::R(g.buf()), Arg::W(dx.buf())],
        workgroups: grid_1d(((rows * k) as u64).div_ceil(256)),
    })?;
    Ok(dx)
}

struct TopKBackward {
    indices: Tensor,
    shape: Vec<usize>,
}

impl Backward for TopKBackward {
    fn name(&self) -> &'static str {
        "top_k"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(top_k_backward(&self.indices, g, &self.shape)?)])
    }
}
