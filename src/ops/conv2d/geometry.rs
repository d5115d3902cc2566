//! The validated sizes of one convolution (`Geom`), the uniform every conv2d kernel
//! reads (`Params`), and the limits each dispatch checks.

use super::Conv2dParams;
use super::MAX_TAPS;
use super::backward_weight::WEIGHT_CHUNK_GEMM;
use crate::error::{Error, Result};

/// Invocations per workgroup of the one-dimensional kernels (V1, packing).
pub(super) const WG: u32 = 256;

/// Every size of one convolution, validated.
#[derive(Debug, Clone, Copy)]
pub(super) struct Geom {
    pub(super) n: usize,
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) o: usize,
    pub(super) cg: usize,
    pub(super) og: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    pub(super) p: Conv2dParams,
}

impl Geom {
    pub(super) fn new(p: &Conv2dParams, xs: &[usize], ws: &[usize]) -> Result<Geom> {
        const OP: &str = "conv2d";
        if xs.len() != 4 || ws.len() != 4 {
            return Err(Error::shapes(
                OP,
                xs,
                ws,
                "x must be [N, C, H, W] and w [O, C/groups, KH, KW]",
            ));
        }
        let (st, pad, dil, groups) = (p.stride, p.padding, p.dilation, p.groups);
        if st.0 == 0 || st.1 == 0 || dil.0 == 0 || dil.1 == 0 || groups == 0 {
            return Err(Error::Invalid(format!(
                "conv2d: stride {st:?}, dilation {dil:?} and groups {groups} must be at least 1"
            )));
        }
        if xs.contains(&0) || ws.contains(&0) {
            return Err(Error::shapes(OP, xs, ws, "every dimension must be at least 1"));
        }
        let [n, c, h, w] = [xs[0], xs[1], xs[2], xs[3]];
        let [o, cg, kh, kw] = [ws[0], ws[1], ws[2], ws[3]];
        if c % groups != 0 {
            return Err(Error::shape(
                OP,
                format!("input channels C = {c} of x {xs:?} are not divisible by groups = {groups}"),
            ));
        }
        if o % groups != 0 {
            return Err(Error::shape(
                OP,
                format!("output channels O = {o} of w {ws:?} are not divisible by groups = {groups}"),
            ));
        }
        if cg != c / groups {
            return Err(Error::shapes(
                OP,
                xs,
                ws,
                format!(
                    "w must have C/groups = {} input channels, it has {cg}",
                    c / groups
                ),
            ));
        }
        let span = (dil.0 * (kh - 1) + 1, dil.1 * (kw - 1) + 1);
        if span.0 > h + 2 * pad.0 || span.1 > w + 2 * pad.1 {
            return Err(Error::shapes(
                OP,
                xs,
                ws,
                format!(
                    "the dilated kernel ({} x {}) is larger than the padded input ({} x {})",
                    span.0,
                    span.1,
                    h + 2 * pad.0,
                    w + 2 * pad.1
                ),
            ));
        }
        Ok(Geom {
            n,
            c,
            h,
            w,
            o,
            cg,
            og: o / groups,
            kh,
            kw,
            oh: p.out_h(h, kh),
            ow: p.out_w(w, kw),
            p: *p,
        })
    }

    pub(super) fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    pub(super) fn w_shape(&self) -> [usize; 4] {
        [self.o, self.cg, self.kh, self.kw]
    }
    pub(super) fn y_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.oh, self.ow]
    }
    /// Output pixels over the batch: the length of the backward-weight reduction.
    pub(super) fn pixels(&self) -> usize {
        self.n * self.oh * self.ow
    }
    pub(super) fn taps(&self) -> usize {
        self.kh * self.kw
    }

    /// The uniform every conv2d kernel reads; pass-specific fields start zeroed.
    pub(super) fn params(&self, total: usize) -> Params {
        let p = &self.p;
        Params {
            n: self.n as u32,
            c: self.c as u32,
            h: self.h as u32,
            w: self.w as u32,
            o: self.o as u32,
            kh: self.kh as u32,
            kw: self.kw as u32,
            groups: p.groups as u32,
            oh: self.oh as u32,
            ow: self.ow as u32,
            cg: self.cg as u32,
            og: self.og as u32,
            sh: p.stride.0 as u32,
            sw: p.stride.1 as u32,
            ph: p.padding.0 as u32,
            pw: p.padding.1 as u32,
            dh: p.dilation.0 as u32,
            dw: p.dilation.1 as u32,
            total: total as u32,
            ..Default::default()
        }
    }

    /// Elements of the largest tensor, which must index with u32 in the kernels.
    pub(super) fn check_u32(&self, op: &'static str) -> Result<()> {
        let most = [
            self.n * self.c * self.h * self.w,
            self.n * self.o * self.oh * self.ow,
            self.o * self.cg * self.kh * self.kw * self.pixels().div_ceil(WEIGHT_CHUNK_GEMM),
        ];
        if most.iter().any(|&e| e >= u32::MAX as usize / 2) {
            return Err(Error::shapes(
                op,
                &self.x_shape(),
                &self.w_shape(),
                "a tensor of this convolution has more elements than 32-bit indexing allows",
            ));
        }
        Ok(())
    }
}

crate::uniform! {
    /// The uniform of every conv2d kernel (`struct Params` in `shaders/conv2d_*.wgsl`,
    /// field for field). `total` is the number of work items of the dispatch; the rest
    /// after it belong to one pass or version each.
    #[derive(Default)]
    pub(super) struct Params {
        pub(super) n: u32,
        pub(super) c: u32,
        pub(super) h: u32,
        pub(super) w: u32,
        pub(super) o: u32,
        pub(super) kh: u32,
        pub(super) kw: u32,
        pub(super) groups: u32,
        pub(super) oh: u32,
        pub(super) ow: u32,
        pub(super) cg: u32,
        pub(super) og: u32,
        pub(super) sh: u32,
        pub(super) sw: u32,
        pub(super) ph: u32,
        pub(super) pw: u32,
        pub(super) dh: u32,
        pub(super) dw: u32,
        pub(super) total: u32,
        /// Backward-weight: output pixels per chunk.
        pub(super) chunk: u32,
        /// Backward-weight: number of chunks.
        pub(super) n_chunks: u32,
        /// Backward-data: row and column residue class (ih % sh, iw % sw) of the launch.
        pub(super) rh: u32,
        pub(super) rw: u32,
        /// Backward-data: rows and columns of the residue class.
        pub(super) cls_h: u32,
        pub(super) cls_w: u32,
        /// Padded channel counts of the packed weights (V2 and later).
        pub(super) og_pad: u32,
        pub(super) cg_pad: u32,
        _pad: u32,
    }
}

pub(super) fn check_taps(op: &'static str, geo: &Geom, channels: usize) -> Result<()> {
    if channels * geo.taps() > MAX_TAPS {
        return Err(Error::shapes(
            op,
            &geo.x_shape(),
            &geo.w_shape(),
            format!(
                "{channels} channels x {} taps per output exceed the {MAX_TAPS} terms one invocation \
                 may sum (llvmpipe's loop cap); use more groups or a smaller kernel",
                geo.taps()
            ),
        ));
    }
    Ok(())
}

/// A workgroup count along one grid axis, at most 65,535.
pub(super) fn check_dim(geo: &Geom, n: usize) -> Result<u32> {
    if n > 65535 {
        return Err(Error::shapes(
            "conv2d",
            &geo.x_shape(),
            &geo.w_shape(),
            format!("{n} tiles along one dispatch axis (at most 65,535)"),
        ));
    }
    Ok(n as u32)
}

/// Most input channels per group of the small-channel versions (V5, V6): one vec4
/// accumulator per input pixel in backward-data, one input patch per channel in the
/// forward.
const SMALL_CHANNELS: usize = 4;

/// Whether the small-channel versions (forward and backward-data V5 and V6) apply: at
/// most 4 input channels per group and their weights per output channel in one row of
/// 32 floats (Cg*KH*KW <= 32), strides 1 or 2 and kernel spans (K - 1) * D of at most 2
/// per axis (the tile and patch their unrolled code covers), and the (image, group)
/// planes within one grid axis.
pub(super) fn small_channels_fit(geo: &Geom) -> bool {
    let p = &geo.p;
    let axis = |s: usize, k: usize, d: usize| (1..=2).contains(&s) && (k - 1) * d <= 2;
    geo.cg <= SMALL_CHANNELS
        && geo.cg * geo.taps() <= 32
        && axis(p.stride.0, geo.kh, p.dilation.0)
        && axis(p.stride.1, geo.kw, p.dilation.1)
        && geo.n * p.groups <= 65535
}

/// The override constants every small-channel kernel (forward and backward-data V5 and
/// V6) takes: its workgroup size, Cg, the kernel size, the strides and dilations.
pub(super) fn small_constants(geo: &Geom, wg: u32) -> Vec<(&'static str, f64)> {
    let p = &geo.p;
    vec![
        ("WG", wg as f64),
        ("CG", geo.cg as f64),
        ("KH", geo.kh as f64),
        ("KW", geo.kw as f64),
        ("SH", p.stride.0 as f64),
        ("SW", p.stride.1 as f64),
        ("DH", p.dilation.0 as f64),
        ("DW", p.dilation.1 as f64),
    ]
}
