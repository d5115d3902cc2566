//! What an automatic choice of version measures: the tuning key and the candidates.

use super::backward_data::{small_channels_fit, small_dy_aligned};
use super::geometry::Geom;
use super::subgroups_fit;
use crate::gpu::Gpu;
use crate::ops::tune;

/// The tuning key of a convolution: exact kernel geometry, sizes bucketed to powers of two.
pub(super) fn tune_key(geo: &Geom) -> String {
    let b = tune::bucket;
    let p = &geo.p;
    format!(
        "n{} c{} hw{}x{} o{} k{}x{} s{:?} p{:?} d{:?} g{}",
        b(geo.n),
        b(geo.cg),
        b(geo.h),
        b(geo.w),
        b(geo.og),
        geo.kh,
        geo.kw,
        p.stride,
        p.padding,
        p.dilation,
        b(p.groups)
    )
}

/// The tuning key of backward-data: `tune_key` plus what decides whether V5 and V6
/// apply (`small`) and which loads and stores they use (`dy4`: own dy columns as
/// aligned vec4s; `dx4`: dx rows as vec4s), none of which the buckets determine.
pub(super) fn backward_data_key(geo: &Geom) -> String {
    format!(
        "{} small{} dy4{} dx4{}",
        tune_key(geo),
        small_channels_fit(geo) as u8,
        small_dy_aligned(geo) as u8,
        geo.w.is_multiple_of(4) as u8
    )
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
