// group_norm_backward_finalize_v1: per (sample, group), the coefficients of
// dx = scale * g + a * x + b for each of its planes.
//
// With h = gamma_c * g and xhat = (x - mean) * rstd over the group (M elements):
//   dx = rstd * (h - T1/M - xhat * T2/M), T1 = sum h, T2 = sum h * xhat,
// so a = -rstd^2 * T2 / M and b = rstd * (rstd * mean * T2 - T1) / M.
//
// bindings
//   0 uniform Params { sets: N*G, cg: C/G, c: C, count: M = C/G * H*W (f32) }
//   1 storage read       a: array<f32>, [N*C]: per plane sum g
//   2 storage read       b: array<f32>, [N*C]: per plane sum g * xhat
//   3 storage read       gamma: array<f32>, [C]
//   4 storage read       coef: array<vec4<f32>>, [N*C]: (scale, shift, mean, rstd)
//   5 storage read_write bcoef: array<vec4<f32>>, [N*C]: (scale, shift, a, b)
// One invocation per set; loops 2 * cg iterations. WG 64.

struct Params {
    sets: u32,
    cg: u32,
    c: u32,
    count: f32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> bcoef: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let s = (wid.x + wid.y * nwg.x) * WG + lid;
    if (s >= p.sets) {
        return;
    }
    var t1 = 0.0;
    var t2 = 0.0;
    for (var j = 0u; j < p.cg; j = j + 1u) {
        let pl = s * p.cg + j;
        let gm = gamma[pl % p.c];
        t1 = t1 + gm * a[pl];
        t2 = t2 + gm * b[pl];
    }
    for (var j = 0u; j < p.cg; j = j + 1u) {
        let pl = s * p.cg + j;
        let cf = coef[pl];
        let r = cf.w;
        bcoef[pl] = vec4<f32>(cf.x, cf.y, -r * r * t2 / p.count, r * (r * cf.z * t2 - t1) / p.count);
    }
}
