// pool_max2d_backward_v2: dx of max pooling by scattering each output's gradient to
// its argmax, in phases so that no two invocations of a dispatch touch one element.
//
// Outputs whose rows differ by at least PY = ceil(kh/sh) (and columns by
// PX = ceil(kw/sw)) have disjoint windows. The caller zeroes dx, then dispatches this
// kernel once per phase (py, px) in a fixed order; a dispatch handles the outputs
// with oy % PY == py and ox % PX == px and adds g into dx at their argmax: no atomics,
// no races, and a fixed order of additions (deterministic).
//
// bindings
//   0 uniform Params { n: phase rows per workgroup, h, w, oh, ow, kh, kw, sh, sw,
//     ph, pw, _, planes: N*C, phase_y: py, phase_x: px }
//   1 storage read       g: array<f32>, [N, C, OH, OW] gradient of the output
//   2 storage read       idx: array<f32>, [N, C, OH, OW] argmax plane indices
//   3 storage read_write dx: array<f32>, [N, C, H, W], zero before the first phase
// Grid: x = blocks of `rows` phase rows, plane = wid.y + wid.z * nwg.y. Lane l of a
// block handles the phase's columns l, l + WG, .. of each of its rows (one output
// each, no inner loop). WG (override): 64 on GPUs, 8 on CPU drivers (one SIMD row of
// lavapipe).

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
    phase_y: u32,
    phase_x: u32,
    _q0: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let plane = wid.y + wid.z * nwg.y;
    if (plane >= p.planes) {
        return;
    }
    let py = (p.kh + p.sh - 1u) / p.sh;
    let px = (p.kw + p.sw - 1u) / p.sw;
    // Outputs of this phase: rows phase_y + a*py, columns phase_x + b*px.
    let n_rows = (p.oh - p.phase_y + py - 1u) / py;
    let n_cols = (p.ow - p.phase_x + px - 1u) / px;
    let r0 = wid.x * p.n;
    let r1 = min(r0 + p.n, n_rows);
    let in_base = plane * p.h * p.w;
    for (var a = r0; a < r1; a = a + 1u) {
        let row = (plane * p.oh + p.phase_y + a * py) * p.ow + p.phase_x;
        for (var b = lid; b < n_cols; b = b + WG) {
            let o = row + b * px;
            let t = in_base + u32(idx[o]);
            dx[t] = dx[t] + g[o];
        }
    }
}
