// pool_avg2d_backward_v1: dx of average pooling, gathered (no atomics, deterministic).
//
// bindings
//   0 uniform Params as in pool_avg2d_forward_v1, with n = N*C*H*W first
//   1 storage read       g: array<f32>, [N, C, OH, OW] gradient of the output
//   2 storage read_write dx: array<f32>, [N, C, H, W]
// One invocation per input element: it adds g / divisor of every output whose window
// holds it (oy from ceil((iy + ph - kh + 1) / sh) to floor((iy + ph) / sh), columns
// likewise): at most ceil(kh/sh) * ceil(kw/sw) iterations. WG 256.

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
    include_pad: u32,
    planes: u32,
    _q0: u32,
    _q1: u32,
    _q2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

// First output index whose window (start o*s - pad, length k) reaches position i.
fn first_out(i: u32, k: u32, s: u32, pad: u32) -> u32 {
    let reach = i32(i + pad) - i32(k) + 1;
    if (reach <= 0) {
        return 0u;
    }
    return (u32(reach) + s - 1u) / s;
}

fn in_bounds(o: u32, k: u32, s: u32, pad: u32, size: u32) -> u32 {
    let start = i32(o * s) - i32(pad);
    return u32(min(start + i32(k), i32(size)) - max(start, 0));
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
    let iy = (i % hw) / p.w;
    let ix = i % p.w;
    let oy_hi = min((iy + p.ph) / p.sh + 1u, p.oh);
    let ox_hi = min((ix + p.pw) / p.sw + 1u, p.ow);
    var s = 0.0;
    for (var oy = first_out(iy, p.kh, p.sh, p.ph); oy < oy_hi; oy = oy + 1u) {
        for (var ox = first_out(ix, p.kw, p.sw, p.pw); ox < ox_hi; ox = ox + 1u) {
            var count = f32(p.kh * p.kw);
            if (p.include_pad == 0u) {
                count = f32(in_bounds(oy, p.kh, p.sh, p.ph, p.h) * in_bounds(ox, p.kw, p.sw, p.pw, p.w));
            }
            s = s + g[(plane * p.oh + oy) * p.ow + ox] / count;
        }
    }
    dx[i] = s;
}
