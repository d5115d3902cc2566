//! Layout ops: `concat` along an axis, `slice` (narrow one axis), `permute` and
//! `transpose`. Each writes a new contiguous tensor (reshape, which shares the buffer,
//! is `Tensor::reshape`).
//!
//! Versions:
//! - `layout_copy_v1`: a block of rows from one matrix into another, one element per
//!   invocation: concat runs it once per input, slice once, and their backwards
//!   likewise (concat's backward slices g for each input).
//! - `layout_pad_v1`: slice's backward, g placed in a zero row (one pass, no fill).
//! - `layout_permute_v1`: index decode per output element (rank <= 8); its backward
//!   is the inverse permutation.
//!
//! Bench: none yet (the CNN does not use them in its hot loop).

use crate::autograd::{self, Backward};
use crate::error::{Error, Result};
use crate::gpu::{Arg, Kernel, Launch, grid_1d, uniform};
use crate::kernel;
use crate::shape::{MAX_RANK, strides};
use crate::tensor::Tensor;

static COPY_V1: Kernel = kernel!("layout_copy_v1");
static PAD_V1: Kernel = kernel!("layout_pad_v1");
static PERMUTE_V1: Kernel = kernel!("layout_permute_v1");
const WG: u32 = 256;

/// A shape as (outer, size at `axis`, inner).
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

crate::uniform! {
    struct CopyParams {
        outer: u32,
        width: u32,
        src_row: u32,
        src_off: u32,
        dst_row: u32,
        dst_off: u32,
        _pad: [u32; 2],
    }
}

/// dst[o, dst_off + j] = src[o, src_off + j] for o < outer, j < width.
fn copy_block(
    src: &Tensor,
    dst: &Tensor,
    outer: usize,
    width: usize,
    src_row_off: (usize, usize),
    dst_row_off: (usize, usize),
) -> Result<()> {
    let p = CopyParams {
        outer: outer as u32,
        width: width as u32,
        src_row: src_row_off.0 as u32,
        src_off: src_row_off.1 as u32,
        dst_row: dst_row_off.0 as u32,
        dst_off: dst_row_off.1 as u32,
        _pad: [0; 2],
    };
    src.gpu().launch(Launch {
        kernel: &COPY_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: uniform(&p),
        args: &[Arg::R(src.buf()), Arg::W(dst.buf())],
        workgroups: grid_1d(((outer * width) as u64).div_ceil(WG as u64)),
    })
}

/// The tensors joined along `axis`; they agree on every other axis.
pub fn concat(xs: &[&Tensor], axis: usize) -> Result<Tensor> {
    const OP: &str = "concat";
    let Some(first) = xs.first() else {
        return Err(Error::shape(OP, "no tensors to join"));
    };
    let rank = first.dims();
    if axis >= rank {
        return Err(Error::shape(
            OP,
            format!("axis {axis} out of range for {:?}", first.shape()),
        ));
    }
    for x in &xs[1..] {
        let same_rest = x.dims() == rank && (0..rank).all(|d| d == axis || x.shape()[d] == first.shape()[d]);
        if !same_rest {
            return Err(Error::shapes(
                OP,
                first.shape(),
                x.shape(),
                format!("must agree on every axis but {axis}"),
            ));
        }
    }
    let mut shape = first.shape().to_vec();
    shape[axis] = xs.iter().map(|x| x.shape()[axis]).sum();
    let (outer, total, inner) = split(&shape, axis);
    let out = Tensor::empty(first.gpu(), &shape)?;
    let mut off = 0;
    for x in xs {
        let d = x.shape()[axis];
        copy_block(
            x,
            &out,
            outer,
            d * inner,
            (d * inner, 0),
            (total * inner, off * inner),
        )?;
        off += d;
    }
    let shapes: Vec<Vec<usize>> = xs.iter().map(|x| x.shape().to_vec()).collect();
    Ok(autograd::record(out, xs, move || ConcatBackward { shapes, axis }))
}

struct ConcatBackward {
    shapes: Vec<Vec<usize>>,
    axis: usize,
}

impl Backward for ConcatBackward {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // Input i filled the slab off_i .. off_i + d_i of the axis: its gradient is that slice.
        let mut off = 0;
        let mut out = Vec::with_capacity(self.shapes.len());
        for (shape, &need) in self.shapes.iter().zip(needs) {
            let d = shape[self.axis];
            out.push(if need {
                Some(slice(g, self.axis, off, d)?)
            } else {
                None
            });
            off += d;
        }
        Ok(out)
    }
}

/// `x` narrowed to `start .. start + len` along `axis`.
pub fn slice(x: &Tensor, axis: usize, start: usize, len: usize) -> Result<Tensor> {
    const OP: &str = "slice";
    if axis >= x.dims() || start + len > x.shape()[axis] {
        return Err(Error::shape(
            OP,
            format!(
                "{:?}: axis {axis}, {start} .. {} is out of range",
                x.shape(),
                start + len
            ),
        ));
    }
    let (outer, d, inner) = split(x.shape(), axis);
    let mut shape = x.shape().to_vec();
    shape[axis] = len;
    let out = Tensor::empty(x.gpu(), &shape)?;
    copy_block(
        x,
        &out,
        outer,
        len * inner,
        (d * inner, start * inner),
        (len * inner, 0),
    )?;
    let from = x.shape().to_vec();
    Ok(autograd::record(out, &[x], move || SliceBackward {
        from,
        axis,
        start,
        len,
    }))
}

crate::uniform! {
    struct PadParams {
        outer: u32,
        width: u32,
        off: u32,
        dst_row: u32,
    }
}

struct SliceBackward {
    from: Vec<usize>,
    axis: usize,
    start: usize,
    len: usize,
}

impl Backward for SliceBackward {
    fn name(&self) -> &'static str {
        "slice"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // out[o, j] = x[o, start * inner + j]: dx is g at that place, zero elsewhere.
        let (outer, d, inner) = split(&self.from, self.axis);
        let dx = Tensor::empty(g.gpu(), &self.from)?;
        let p = PadParams {
            outer: outer as u32,
            width: (self.len * inner) as u32,
            off: (self.start * inner) as u32,
            dst_row: (d * inner) as u32,
        };
        g.gpu().launch(Launch {
            kernel: &PAD_V1,
            entry: "main",
            constants: &[("WG", WG as f64)],
            params: uniform(&p),
            args: &[Arg::R(g.buf()), Arg::W(dx.buf())],
            workgroups: grid_1d((dx.numel() as u64).div_ceil(WG as u64)),
        })?;
        Ok(vec![Some(dx)])
    }
}

crate::uniform! {
    struct PermuteParams {
        n: u32,
        rank: u32,
        _pad: [u32; 2],
        shape: [u32; MAX_RANK],
        src_stride: [u32; MAX_RANK],
    }
}

/// `x` with its axes reordered: axis i of the result is axis `dims[i]` of x.
pub fn permute(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let rank = x.dims();
    let mut seen = vec![false; rank];
    let is_perm = dims.len() == rank
        && dims
            .iter()
            .all(|&d| d < rank && !std::mem::replace(&mut seen[d], true));
    if !is_perm {
        return Err(Error::shape(
            "permute",
            format!("{dims:?} is not a permutation of the axes of {:?}", x.shape()),
        ));
    }
    if rank > MAX_RANK {
        return Err(Error::shape(
            "permute",
            format!("rank of {:?} is above {MAX_RANK}", x.shape()),
        ));
    }
    let shape: Vec<usize> = dims.iter().map(|&d| x.shape()[d]).collect();
    let out = Tensor::empty(x.gpu(), &shape)?;
    let xs = strides(x.shape());
    let mut p = PermuteParams {
        n: out.numel() as u32,
        rank: rank as u32,
        _pad: [0; 2],
        shape: [0; MAX_RANK],
        src_stride: [0; MAX_RANK],
    };
    for (k, &d) in dims.iter().enumerate() {
        p.shape[k] = shape[k] as u32;
        p.src_stride[k] = xs[d] as u32;
    }
    x.gpu().launch(Launch {
        kernel: &PERMUTE_V1,
        entry: "main",
        constants: &[("WG", WG as f64)],
        params: uniform(&p),
        args: &[Arg::R(x.buf()), Arg::W(out.buf())],
        workgroups: grid_1d((out.numel() as u64).div_ceil(WG as u64)),
    })?;
    let mut inverse = vec![0; rank];
    for (k, &d) in dims.iter().enumerate() {
        inverse[d] = k;
    }
    Ok(autograd::record(out, &[x], move || PermuteBackward { inverse }))
}

/// `x` with axes `a` and `b` swapped.
pub fn transpose(x: &Tensor, a: usize, b: usize) -> Result<Tensor> {
    if a >= x.dims() || b >= x.dims() {
        return Err(Error::shape(
            "transpose",
            format!("axes {a}, {b} out of range for {:?}", x.shape()),
        ));
    }
    let mut dims: Vec<usize> = (0..x.dims()).collect();
    dims.swap(a, b);
    permute(x, &dims)
}

struct PermuteBackward {
    inverse: Vec<usize>,
}

impl Backward for PermuteBackward {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // out axis k is x axis dims[k]: moving g's axes back is the inverse permutation.
        Ok(vec![Some(permute(g, &self.inverse)?)])
    }
}
