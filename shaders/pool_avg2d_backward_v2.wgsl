// pool_avg2d_backward_v2: dx of average pooling, gathered (no atomics, deterministic),
// one input row per workgroup row of the grid.
//
// bindings
//   0 uniform Params as in pool_avg2d_forward_v1 (first field n: rows per workgroup)
//   1 storage read       g: array<f32>, [N, C, OH, OW] gradient of the output
//   2 storage read_write dx: array<f32>, [N, C, H, W]
// One invocation per input element: it adds g / divisor of every output whose window
// holds it (oy from ceil((iy + ph - kh + 1) / sh) to floor((iy + ph) / sh), columns
// likewise): at most ceil(kh/sh) * ceil(kw/sw) iterations.
// Grid: x = ceil(rows / ROWS) blocks of ROWS rows, plane = wid.y + wid.z * nwg.y. Lane l
// of a block handles columns l, l + WG, .. of each of its rows, so a workgroup does a
// long run of work and no lane divides to find its position. WG (override): 64 on
// GPUs, 8 on CPU drivers (one SIMD row of lavapipe).

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
    let plane = wid.y + wid.z * nwg.y;
    if (plane >= p.planes) {
        return;
    }
    let r0 = wid.x * p.n;
    let r1 = min(r0 + p.n, p.h);
    for (var iy = r0; iy < r1; iy = iy + 1u) {
    for (var ix = lid; ix < p.w; ix = ix + WG) {
            let i = (plane * p.h + iy) * p.w + ix;
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
    }
}
