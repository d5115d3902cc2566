// loss_pointwise_forward_v1: loss = (1/n) sum_i term(pred[i] - tgt[i]), with
// term(d) = d^2 (LOSS 0, mse), |d| (LOSS 1, l1), or Huber with threshold delta
// (LOSS 2: d^2 / 2 where |d| < delta, else delta * (|d| - delta / 2)).
// Two passes whose order of additions depends only on n and the entry, so the loss is
// bitwise reproducible.
//
// entry `partial`: one workgroup per tile of TILE = WG * K elements
//   0 uniform Params { n, n_parts = ceil(n / TILE), delta }
//   1 storage read       pred: array<f32>, n
//   2 storage read       tgt: array<f32>, n
//   3 storage read_write parts: array<f32>, n_parts tile sums; when n_parts == 1 the
//     single value is already the loss (divided by n), so no `finish` pass is needed
//   Lane l of workgroup w adds the terms of elements w * TILE + l + WG * k, k < K
//   (neighbouring lanes read neighbouring elements), then the workgroup adds its WG
//   lane sums in a tree in workgroup memory.
// entry `partial4`: the same tiles read as vec4s (n divisible by 4; bindings 1 and 2
//   are then array<vec4<f32>>): lane l adds the vec4s w * TILE / 4 + l + WG * k,
//   k < K / 4. A quarter of the loads, the same parts layout.
// entry `finish`: a single workgroup
//   0 uniform Params (as above)
//   1 storage read       parts: array<f32>, n_parts
//   2 storage read_write out: array<f32>, 1 element, the loss
//   Lane l adds parts l, l + WG, ... (n_parts / WG iterations: at most 8 for the
//   largest binding, far below llvmpipe's 65,535-iteration cap), then the tree.
// WG 256 (a power of two for the tree; the WebGPU default maximum). K 64 (tiles of
// 16,384 elements): 64 loop iterations per lane in `partial`, 16 in `partial4`; fewer,
// longer tiles than K 16 halved the time on lavapipe, where each workgroup's barriers
// cost (benches/NOTES.md, Losses and optimisers).

struct Params {
    n: u32,
    n_parts: u32,
    delta: f32,
    _pad: u32,
}

override WG: u32 = 256u;
override K: u32 = 64u;
override LOSS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> tgt: array<f32>;
@group(0) @binding(3) var<storage, read_write> parts: array<f32>;
// `partial4` bindings (a different entry point, so the numbers may repeat).
@group(0) @binding(1) var<storage, read> pred4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> tgt4: array<vec4<f32>>;
// `finish` bindings.
@group(0) @binding(1) var<storage, read> parts_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> sh: array<f32, WG>;

fn term(d: vec4<f32>) -> vec4<f32> {
    switch LOSS {
        case 0u: { return d * d; }
        case 1u: { return abs(d); }
        default: {
            let a = abs(d);
            return select(p.delta * (a - 0.5 * p.delta), 0.5 * d * d, a < vec4<f32>(p.delta));
        }
    }
}

// Sum of v over the workgroup, in a fixed tree order; every lane gets the result.
fn tree_sum(lid: u32, v: f32) -> f32 {
    sh[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            sh[lid] = sh[lid] + sh[lid + s];
        }
        workgroupBarrier();
    }
    return sh[0];
}

fn write_part(w: u32, total: f32) {
    if (w < p.n_parts) {
        parts[w] = select(total, total / f32(p.n), p.n_parts == 1u);
    }
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let w = wid.x + wid.y * nwg.x;
    let base = w * WG * K + lid;
    var s = 0.0;
    for (var k = 0u; k < K; k = k + 1u) {
        let i = base + k * WG;
        if (i < p.n) {
            s = s + term(vec4<f32>(pred[i] - tgt[i])).x;
        }
    }
    let total = tree_sum(lid, s);
    if (lid == 0u) {
        write_part(w, total);
    }
}

@compute @workgroup_size(WG)
fn partial4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let w = wid.x + wid.y * nwg.x;
    let base = w * WG * (K / 4u) + lid;
    var s = vec4<f32>(0.0);
    for (var k = 0u; k < K / 4u; k = k + 1u) {
        let j = base + k * WG;
        if (j < p.n / 4u) {
            s = s + term(pred4[j] - tgt4[j]);
        }
    }
    let total = tree_sum(lid, (s.x + s.y) + (s.z + s.w));
    if (lid == 0u) {
        write_part(w, total);
    }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var j = lid; j < p.n_parts; j = j + WG) {
        s = s + parts_in[j];
    }
    let total = tree_sum(lid, s);
    if (lid == 0u) {
        out[0] = total / f32(p.n);
    }
}
