// norm_apply_v1: y = x * scale + shift (then max(y, 0) when RELU), the coefficients
// per channel (batch norm) or per plane (group norm); any shape, one element per
// invocation.
//
// bindings
//   0 uniform Params { total: elements, hw: H*W, c: C }
//   1 storage read       x: array<f32>, [N, C, H*W]
//   2 storage read       coef: array<vec4<f32>>, (scale, shift, mean, rstd) per
//     channel (MODE 0) or per plane n*C + c (MODE 1)
//   3 storage read_write y: array<f32>, [N, C, H*W]
// The backward passes recompute the ReLU mask with the same fma, so it matches y.
// WG 256: fewest workgroups.

struct Params {
    total: u32,
    hw: u32,
    c: u32,
    _p0: u32,
}

override WG: u32 = 256u;
override MODE: u32 = 0u;
override RELU: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.total) {
        return;
    }
    var ci = i / p.hw;
    if (MODE == 0u) {
        ci = ci % p.c;
    }
    let k = coef[ci];
    var v = fma(x[i], k.x, k.y);
    if (RELU != 0u) {
        v = max(v, 0.0);
    }
    y[i] = v;
}
