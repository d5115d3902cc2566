// batch_norm_backward_finalize_v1: per channel, the parameter gradients and the
// coefficients of dx = scale * g' + a * x + b.
//
// bindings
//   0 uniform Params { c: channels, parts: partials per channel, count: N*H*W (f32) }
//   1 storage read       parts: array<vec2<f32>>, [C, parts]: (sum g', sum g' * xhat)
//   2 storage read       coef: array<vec4<f32>>, [C]: (scale, shift, mean, rstd)
//   3 storage read_write dgamma: array<f32>, [C] = sum g' * xhat
//   4 storage read_write dbeta: array<f32>, [C] = sum g'
//   5 storage read_write bcoef: array<vec4<f32>>, [C]: (scale, shift, a, b)
// TRAIN 1: the statistics came from the batch, so
//   dx = scale * (g' - S1/M - xhat * S2/M), xhat = (x - mean) * rstd, which gives
//   a = -scale * rstd * S2 / M, b = scale * (rstd * mean * S2 - S1) / M.
// TRAIN 0 (eval): the statistics are constants, a = b = 0.
// The partials are summed in order (deterministic; parts <= 16384 iterations).
// One invocation per channel; WG 64.

struct Params {
    c: u32,
    parts: u32,
    count: f32,
    _p0: u32,
}

override WG: u32 = 64u;
override TRAIN: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> parts: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(5) var<storage, read_write> bcoef: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let ch = (wid.x + wid.y * nwg.x) * WG + lid;
    if (ch >= p.c) {
        return;
    }
    var s = vec2<f32>(0.0);
    for (var i = 0u; i < p.parts; i = i + 1u) {
        s = s + parts[ch * p.parts + i];
    }
    dbeta[ch] = s.x;
    dgamma[ch] = s.y;
    let cf = coef[ch];
    var a = 0.0;
    var b = 0.0;
    if (TRAIN != 0u) {
        a = -cf.x * cf.w * s.y / p.count;
        b = cf.x * (cf.w * cf.z * s.y - s.x) / p.count;
    }
    bcoef[ch] = vec4<f32>(cf.x, cf.y, a, b);
}
