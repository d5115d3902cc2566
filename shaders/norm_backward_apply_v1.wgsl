// norm_backward_apply_v1: dx = scale * g' + a * x + b, with g' = g, or g where the
// fused ReLU passed (x * scale + shift > 0: the forward's fma, so the mask matches y);
// any shape, one element per invocation.
//
// bindings
//   0 uniform Params { total: elements, hw: H*W, c: C }
//   1 storage read       x: array<f32>, [N, C, H*W] forward input
//   2 storage read       g: array<f32>, [N, C, H*W] gradient of the output
//   3 storage read       bcoef: array<vec4<f32>>, (scale, shift, a, b) per channel
//     (MODE 0) or per plane (MODE 1)
//   4 storage read_write dx: array<f32>, [N, C, H*W]
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
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> bcoef: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

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
    let k = bcoef[ci];
    let xv = x[i];
    var gv = g[i];
    if (RELU != 0u && !(fma(xv, k.x, k.y) > 0.0)) {
        gv = 0.0;
    }
    dx[i] = fma(k.x, gv, fma(k.z, xv, k.w));
}
