// batch_norm_finalize_v1: per channel, the statistics and the affine coefficients the
// apply pass uses; in training also moves the running statistics (in place).
//
// bindings
//   0 uniform Params { c: channels, parts: partials per channel, count: N*H*W (f32),
//     eps, momentum, unbias: count / (count - 1) }
//   1 storage read       gamma: array<f32>, [C]
//   2 storage read       beta: array<f32>, [C]
//   3 storage read_write running_mean: array<f32>, [C]
//   4 storage read_write running_var: array<f32>, [C] (unbiased, as torch)
//   5 storage read_write coef: array<vec4<f32>>, [C]: (scale = gamma * rstd,
//     shift = beta - mean * scale, mean, rstd) with rstd = 1 / sqrt(var + eps)
//   6 storage read       parts: array<vec4<f32>>, [C, parts] from norm_stats_v1/v2
//     (entry `train` only)
// Entry `train`: combines the channel's partials (count, mean, M2) in order with Chan's
// formula (deterministic; parts <= 16384 loop iterations); the biased variance
// normalises. Entry `eval`: the running statistics normalise.
// One invocation per channel; WG 64 (C is small).

struct Params {
    c: u32,
    parts: u32,
    count: f32,
    eps: f32,
    momentum: f32,
    unbias: f32,
    _p0: u32,
    _p1: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(5) var<storage, read_write> coef: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> parts: array<vec4<f32>>;

fn write_coef(ch: u32, mean: f32, variance: f32) {
    let rstd = 1.0 / sqrt(variance + p.eps);
    let scale = gamma[ch] * rstd;
    coef[ch] = vec4<f32>(scale, beta[ch] - mean * scale, mean, rstd);
}

@compute @workgroup_size(WG)
fn train(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let ch = (wid.x + wid.y * nwg.x) * WG + lid;
    if (ch >= p.c) {
        return;
    }
    // Means relative to the first partial's, so that the running mean stays small
    // and its roundings do not add up when the data sit far from zero.
    let base = parts[ch * p.parts].y;
    var n = 0.0;
    var rel = 0.0;
    var m2 = 0.0;
    for (var i = 0u; i < p.parts; i = i + 1u) {
        let q = parts[ch * p.parts + i];
        if (q.x > 0.0) {
            let nt = n + q.x;
            let d = (q.y - base) - rel;
            rel = rel + d * (q.x / nt);
            m2 = m2 + q.z + d * d * (n * q.x / nt);
            n = nt;
        }
    }
    let mean = base + rel;
    let variance = m2 / p.count;
    write_coef(ch, mean, variance);
    running_mean[ch] = (1.0 - p.momentum) * running_mean[ch] + p.momentum * mean;
    running_var[ch] = (1.0 - p.momentum) * running_var[ch] + p.momentum * variance * p.unbias;
}

@compute @workgroup_size(WG)
fn eval(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let ch = (wid.x + wid.y * nwg.x) * WG + lid;
    if (ch >= p.c) {
        return;
    }
    write_coef(ch, running_mean[ch], running_var[ch]);
}
