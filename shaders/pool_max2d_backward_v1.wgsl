// pool_max2d_backward_v1: dx of max pooling, gathered (no atomics, deterministic).
//
// bindings
//   0 uniform Params { n: N*C*H*W, h, w, oh, ow, kh, kw, sh, sw, ph, pw; planes unused }
//   1 storage read       g: array<f32>, [N, C, OH, OW] gradient of the output
//   2 storage read       idx: array<f32>, [N, C, OH, OW] argmax plane indices
//   3 storage read_write dx: array<f32>, [N, C, H, W]
// One invocation per input element: it adds g of every output whose window holds it
// and whose argmax is this element, in output order; at most ceil(kh/sh) * ceil(kw/sw)
// iterations. WG 256.

struct Params {
    n: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    _p0: u32,
    planes: u32,
    _q0: u32,
    _q1: u32,
    _q2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// First output index whose window (start o*s - pad, length k) reaches position i.
fn first_out(i: u32, k: u32, s: u32, pad: u32) -> u32 {
    let reach = i32(i + pad) - i32(k) + 1;
    if (reach <= 0) {
        return 0u;
    }
    return (u32(reach) + s - 1u) / s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n) {
        return;
    }
    let hw = p.h * p.w;
    let plane = i / hw;
    let pos = i % hw;
    let iy = pos / p.w;
    let ix = i % p.w;
    let me = f32(pos);
    let oy_hi = min((iy + p.ph) / p.sh + 1u, p.oh);
    let ox_hi = min((ix + p.pw) / p.sw + 1u, p.ow);
    var s = 0.0;
    for (var oy = first_out(iy, p.kh, p.sh, p.ph); oy < oy_hi; oy = oy + 1u) {
        for (var ox = first_out(ix, p.kw, p.sw, p.pw); ox < ox_hi; ox = ox + 1u) {
            let o = (plane * p.oh + oy) * p.ow + ox;
            if (idx[o] == me) {
                s = s + g[o];
            }
        }
    }
    dx[i] = s;
}
