//! What an automatic choice of version measures: the tuning key and the candidates.

use super::backward_data::small_dy_aligned;
use super::geometry::{Geom, small_channels_fit};
use super::subgroups_fit;
use crate::gpu::Gpu;
use crate::ops::tune;

/// The tuning key of a convolution pass: the exact kernel geometry, sizes bucketed to
/// powers of two, and every property the buckets do not determine that changes the
/// candidate set or a kernel's code path. Two shapes that share a key share the
/// measured choice, so they must meet the same candidates and the same code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TuneKey {
    /// Bucketed N, Cg, H, W, Og.
    sizes: [usize; 5],
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    dilation: (usize, usize),
    /// Bucketed groups.
    groups: usize,
    /// Og < 8: V1 joins the forward and weight-gradient candidates.
    og_narrow: bool,
    /// Cg < 8: V1 joins the backward-data candidates, and the weight gradient takes its
    /// SPAN path (4-row blocks spanning taps).
    cg_narrow: bool,
    /// OH*OW divisible by 4: the weight gradient reads dy as vec4s.
    aligned: bool,
    /// Backward-data only ([`backward_data_key`]): whether V5/V6 apply, and whether they
    /// read dy and write dx as vec4s.
    data: Option<[bool; 3]>,
    /// Forward only ([`forward_key`]): whether V5/V6 apply, and whether they write y as
    /// vec4s.
    fwd: Option<[bool; 2]>,
}

impl std::fmt::Display for TuneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [n, c, h, w, o] = self.sizes;
        let b = |v: bool| v as u8;
        write!(
            f,
            "n{n} c{c} hw{h}x{w} o{o} k{}x{} s{:?} p{:?} d{:?} g{} og<8:{} cg<8:{} al{}",
            self.kernel.0,
            self.kernel.1,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            b(self.og_narrow),
            b(self.cg_narrow),
            b(self.aligned),
        )?;
        if let Some([small, dy4, dx4]) = self.data {
            write!(f, " small{} dy4{} dx4{}", b(small), b(dy4), b(dx4))?;
        }
        if let Some([small, y4]) = self.fwd {
            write!(f, " small{} y4{}", b(small), b(y4))?;
        }
        Ok(())
    }
}

/// The tuning key of the weight gradient, and the base of the others.
pub(super) fn tune_key(geo: &Geom) -> TuneKey {
    let b = tune::bucket;
    let p = &geo.p;
    TuneKey {
        sizes: [b(geo.n), b(geo.cg), b(geo.h), b(geo.w), b(geo.og)],
        kernel: (geo.kh, geo.kw),
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
        groups: b(p.groups),
        og_narrow: geo.og < 8,
        cg_narrow: geo.cg < 8,
        aligned: (geo.oh * geo.ow).is_multiple_of(4),
        data: None,
        fwd: None,
    }
}

/// The tuning key of the forward: `tune_key` plus whether V5 and V6 apply (`small`)
/// and whether they store y as vec4s (`y4`).
pub(super) fn forward_key(geo: &Geom) -> TuneKey {
    TuneKey {
        fwd: Some([small_channels_fit(geo), geo.ow.is_multiple_of(4)]),
        ..tune_key(geo)
    }
}

/// The tuning key of backward-data: `tune_key` plus what decides whether V5 and V6
/// apply (`small`) and which loads and stores they use (`dy4`: own dy columns as
/// aligned vec4s; `dx4`: dx rows as vec4s).
pub(super) fn backward_data_key(geo: &Geom) -> TuneKey {
    TuneKey {
        data: Some([
            small_channels_fit(geo),
            small_dy_aligned(geo),
            geo.w.is_multiple_of(4),
        ]),
        ..tune_key(geo)
    }
}

/// Candidates of an automatic choice, the documented default first: V3 (forward) on
/// GPUs, then V4 where subgroups fit, then V2; V3 is left out on CPU adapters (workgroup
/// tiling is the slowest style there, see benches/NOTES.md, conv2d), and V1 joins when
/// the 32-channel tiles would be mostly padding (fewer than 8 channels per group).
pub(super) fn candidates<V: Copy>(gpu: &Gpu, channels: usize, v1: V, v2: V, v3: Option<V>, v4: V) -> Vec<V> {
    let mut c = Vec::new();
    if let (Some(v3), false) = (v3, gpu.is_cpu()) {
        c.push(v3);
    }
    if subgroups_fit(gpu) {
        c.push(v4);
    }
    c.push(v2);
    if channels < 8 {
        c.push(v1);
    }
    c
}

/// Puts the small-channel versions in front of `cands` where they apply (so they are
/// also the default with tuning off): `v6` where subgroups fit, `v5` everywhere; `v1`
/// is then left out on CPU adapters (100x slower than V6 there: its tuning runs would
/// cost the image layer ~20 s, benches/NOTES.md, conv2d).
pub(super) fn small_first<V: Copy + PartialEq>(
    gpu: &Gpu,
    geo: &Geom,
    cands: &mut Vec<V>,
    v1: V,
    v5: V,
    v6: V,
) {
    if !small_channels_fit(geo) {
        return;
    }
    if gpu.is_cpu() {
        cands.retain(|&v| v != v1);
    }
    cands.insert(0, v5);
    if subgroups_fit(gpu) {
        cands.insert(0, v6);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv2d::Conv2dParams;
    use crate::ops::tune::KeyGrid;

    /// Everything the candidates and code paths of the weight gradient (`'w'`),
    /// backward-data (`'d'`) or the forward (`'f'`) depend on, beyond the adapter.
    fn paths(geo: &Geom, pass: char) -> Vec<bool> {
        let weight = vec![geo.og < 8, geo.cg < 8, (geo.oh * geo.ow).is_multiple_of(4)];
        match pass {
            'd' => {
                let dx4 = geo.w.is_multiple_of(4);
                vec![geo.cg < 8, small_channels_fit(geo), small_dy_aligned(geo), dx4]
            }
            'f' => [weight, vec![small_channels_fit(geo), geo.ow.is_multiple_of(4)]].concat(),
            _ => weight,
        }
    }

    /// Over a grid of shapes that share buckets in many ways (channels 3-9 and 16-17,
    /// sides 7-10, strides 1-2, groups 1-2), two shapes with the same key always have the
    /// same candidates and code paths: a cached choice is never applied to, or
    /// overwritten by, a shape that meets other kernels.
    #[test]
    fn shapes_that_share_a_key_share_candidates_and_code_paths() {
        let mut grid = KeyGrid::new();
        for c in [3, 4, 5, 6, 7, 8, 9, 16, 17] {
            for o in [6, 7, 8, 16] {
                for side in 7..=10 {
                    for (stride, groups) in [(1, 1), (2, 1), (1, 2)] {
                        if c % groups != 0 || o % groups != 0 {
                            continue;
                        }
                        let p = Conv2dParams::new(stride, 1).groups(groups);
                        let geo = Geom::new(&p, &[2, c, side, side], &[o, c / groups, 3, 3]).unwrap();
                        let what = format!("c{c} o{o} side{side} s{stride} g{groups}");
                        let keys = [
                            (tune_key(&geo), 'w'),
                            (backward_data_key(&geo), 'd'),
                            (forward_key(&geo), 'f'),
                        ];
                        for (key, pass) in keys {
                            grid.add(key, paths(&geo, pass), what.clone());
                        }
                    }
                }
            }
        }
        grid.assert_merged(101);
    }

    #[test]
    fn seven_and_eight_channels_and_aligned_pixel_counts_get_their_own_keys() {
        let p = Conv2dParams::new(1, 1);
        let geo = |c: usize, side: usize| Geom::new(&p, &[2, c, side, side], &[c, c, 3, 3]).unwrap();
        // 7 and 8 share the bucket 8, but only 7 takes V1 and the SPAN path.
        assert_ne!(tune_key(&geo(7, 8)), tune_key(&geo(8, 8)));
        // 9 x 9 and 10 x 10 share the bucket 16; only 100 pixels are vec4-aligned.
        assert_ne!(tune_key(&geo(8, 9)), tune_key(&geo(8, 10)));
        assert_eq!(tune_key(&geo(16, 10)), tune_key(&geo(16, 12)));
    }
}
