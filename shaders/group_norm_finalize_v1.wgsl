// group_norm_finalize_v1: per (sample, group), the statistics, and the affine
// coefficients of each of its planes.
//
// bindings
//   0 uniform Params { sets: N*G, parts: partials per set, cg: C/G, c: C,
//     count: C/G * H*W (f32), eps }
//   1 storage read       parts: array<vec4<f32>>, [N*G, parts]: (count, mean, M2, 0)
//     from norm_stats_v1/v2
//   2 storage read       gamma: array<f32>, [C]
//   3 storage read       beta: array<f32>, [C]
//   4 storage read_write coef: array<vec4<f32>>, [N*C]: per plane (scale = gamma * rstd,
//     shift = beta - mean * scale, mean, rstd), rstd = 1 / sqrt(var + eps), var biased
// Partials are combined in order with Chan's formula (deterministic). Loops: parts +
// cg iterations, which the caller keeps under llvmpipe's 65,535 cap.
// One invocation per set; WG 64.

struct Params {
    sets: u32,
    parts: u32,
    cg: u32,
    c: u32,
    count: f32,
    eps: f32,
    _p0: u32,
    _p1: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> parts: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> coef: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let s = (wid.x + wid.y * nwg.x) * WG + lid;
    if (s >= p.sets) {
        return;
    }
    // Means relative to the first partial's, so that the running mean stays small
    // and its roundings do not add up when the data sit far from zero.
    let base = parts[s * p.parts].y;
    var n = 0.0;
    var rel = 0.0;
    var m2 = 0.0;
    for (var i = 0u; i < p.parts; i = i + 1u) {
        let q = parts[s * p.parts + i];
        if (q.x > 0.0) {
            let nt = n + q.x;
            let d = (q.y - base) - rel;
            rel = rel + d * (q.x / nt);
            m2 = m2 + q.z + d * d * (n * q.x / nt);
            n = nt;
        }
    }
    let mean = base + rel;
    let rstd = 1.0 / sqrt(m2 / p.count + p.eps);
    for (var j = 0u; j < p.cg; j = j + 1u) {
        let pl = s * p.cg + j;
        let ch = pl % p.c;
        let scale = gamma[ch] * rstd;
        coef[pl] = vec4<f32>(scale, beta[ch] - mean * scale, mean, rstd);
    }
}
