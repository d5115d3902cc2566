// pool_avg2d_forward_v2: average pooling over NCHW planes (floor mode), one output row
// per workgroup row of the grid.
//
// bindings
//   0 uniform Params { n: rows per workgroup, h, w, oh, ow, kh, kw, sh, sw, ph, pw,
//     include_pad: 1 to divide by kh*kw (torch's default), 0 by the in-bounds count }
//   1 storage read       x: array<f32>, [N, C, H, W]
//   2 storage read_write y: array<f32>, [N, C, OH, OW]
// One invocation per output: sums the in-bounds part of its window (rows
// oy*sh - ph .. + kh, columns likewise), at most kh*kw <= 16384 iterations.
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
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let plane = wid.y + wid.z * nwg.y;
    if (plane >= p.planes) {
        return;
    }
    let r0 = wid.x * p.n;
    let r1 = min(r0 + p.n, p.oh);
    for (var oy = r0; oy < r1; oy = oy + 1u) {
    for (var ox = lid; ox < p.ow; ox = ox + WG) {
            let o = (plane * p.oh + oy) * p.ow + ox;
            let y0 = i32(oy * p.sh) - i32(p.ph);
            let x0 = i32(ox * p.sw) - i32(p.pw);
            let ylo = u32(max(y0, 0));
            let yhi = u32(min(y0 + i32(p.kh), i32(p.h)));
            let xlo = u32(max(x0, 0));
            let xhi = u32(min(x0 + i32(p.kw), i32(p.w)));
            var s = 0.0;
            for (var iy = ylo; iy < yhi; iy = iy + 1u) {
                let row = (plane * p.h + iy) * p.w;
                for (var ix = xlo; ix < xhi; ix = ix + 1u) {
                    s = s + x[row + ix];
                }
            }
            var count = f32(p.kh * p.kw);
            if (p.include_pad == 0u) {
                count = f32((yhi - ylo) * (xhi - xlo));
            }
            y[o] = s / count;
    }
    }
}
