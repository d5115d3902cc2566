// loss_plcc_forward_v1: loss = 1 - r with
// r = cov(pred, tgt) / sqrt((var(pred) + eps) * (var(tgt) + eps)), population (1/n)
// moments, computed in two passes over the batch (means, then centred moments, which
// stays accurate when the means are large next to the spread).
//
// bindings
//   0 uniform Params { n, eps }
//   1 storage read       pred: array<f32>, n
//   2 storage read       tgt: array<f32>, n
//   3 storage read_write stats: array<f32>, 8: mean_p, mean_t, var_p + eps,
//     var_t + eps, cov, r, 1 / sqrt((var_p + eps)(var_t + eps)), n (what the backward needs)
//   4 storage read_write out: array<f32>, 1 element, the loss
// Entry `main`: a single workgroup; lane l visits elements l, l + WG, ... once per
// pass, and each pass ends in a fixed-order tree over the lanes (deterministic). Two
// passes of n / WG iterations (plus 16 for the trees) must stay under llvmpipe's
// 65,535-iteration cap per invocation, so n <= 8,000,000 (the Rust side checks).
// Entry `main4`: the same with vec4 loads (n divisible by 4; bindings 1 and 2 are then
// array<vec4<f32>>): lane l visits the vec4s l, l + WG, ...
// WG 256: a power of two for the tree, the WebGPU default maximum.

struct Params {
    n: u32,
    eps: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> tgt: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
// The inputs seen as vec4s, for main4.
@group(0) @binding(1) var<storage, read> pred4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> tgt4: array<vec4<f32>>;

var<workgroup> sh: array<vec4<f32>, WG>;

// Sum of v over the workgroup in a fixed tree order; every lane gets the result, and
// the trailing barrier lets the next call reuse `sh`.
fn tree_sum(lid: u32, v: vec4<f32>) -> vec4<f32> {
    sh[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] = sh[lid] + sh[lid + s];
        }
        workgroupBarrier();
    }
    let total = sh[0];
    workgroupBarrier();
    return total;
}

// Lane 0 turns the centred sums (spp, stt, spt) into the stats and the loss.
fn write_stats(lid: u32, mp: f32, mt: f32, mom: vec4<f32>) {
    if (lid == 0u) {
        let nf = f32(p.n);
        let vp = mom.x / nf + p.eps;
        let vt = mom.y / nf + p.eps;
        let cov = mom.z / nf;
        let inv_d = 1.0 / (sqrt(vp) * sqrt(vt));
        let r = cov * inv_d;
        stats[0] = mp;
        stats[1] = mt;
        stats[2] = vp;
        stats[3] = vt;
        stats[4] = cov;
        stats[5] = r;
        stats[6] = inv_d;
        stats[7] = nf;
        out[0] = 1.0 - r;
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
    let nf = f32(p.n);
    var s = vec4<f32>(0.0);
    for (var i = lid; i < p.n; i = i + WG) {
        s = s + vec4<f32>(pred[i], tgt[i], 0.0, 0.0);
    }
    let sums = tree_sum(lid, s);
    let mp = sums.x / nf;
    let mt = sums.y / nf;
    var m = vec4<f32>(0.0);
    for (var i = lid; i < p.n; i = i + WG) {
        let dp = pred[i] - mp;
        let dt = tgt[i] - mt;
        m = m + vec4<f32>(dp * dp, dt * dt, dp * dt, 0.0);
    }
    write_stats(lid, mp, mt, tree_sum(lid, m));
}

fn hsum(v: vec4<f32>) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size(WG)
fn main4(@builtin(local_invocation_index) lid: u32) {
    let nf = f32(p.n);
    let n4 = p.n / 4u;
    var sp = vec4<f32>(0.0);
    var st = vec4<f32>(0.0);
    for (var j = lid; j < n4; j = j + WG) {
        sp = sp + pred4[j];
        st = st + tgt4[j];
    }
    let sums = tree_sum(lid, vec4<f32>(hsum(sp), hsum(st), 0.0, 0.0));
    let mp = sums.x / nf;
    let mt = sums.y / nf;
    var spp = vec4<f32>(0.0);
    var stt = vec4<f32>(0.0);
    var spt = vec4<f32>(0.0);
    for (var j = lid; j < n4; j = j + WG) {
        let dp = pred4[j] - mp;
        let dt = tgt4[j] - mt;
        spp = spp + dp * dp;
        stt = stt + dt * dt;
        spt = spt + dp * dt;
    }
    write_stats(lid, mp, mt, tree_sum(lid, vec4<f32>(hsum(spp), hsum(stt), hsum(spt), 0.0)));
}
