// optim_clip_norm_v1: torch.nn.utils.clip_grad_norm_ with the L2 norm:
// norm = sqrt(sum of g^2 over every gradient), then every gradient is scaled in place
// by min(1, max_norm / (norm + 1e-6)). The sums run in a fixed order that depends
// only on the gradient sizes and their order (deterministic).
//
// entry `partial`: sums of squares of one gradient, one workgroup per tile of
// TILE = WG * K elements
//   0 uniform Params { n (elements of this gradient), offset (its first slot in
//     parts), n_parts (all slots), max_norm }
//   1 storage read       g: array<f32>, n
//   2 storage read_write parts: array<f32>, n_parts; this gradient writes slots
//     offset .. offset + ceil(n / TILE)
//   Lane l of workgroup w adds g[w * TILE + l + WG * k]^2 for k < K, then a tree.
// entry `partial4`: the same with vec4 loads (n divisible by 4; binding 1 is then
//   array<vec4<f32>>): lane l adds the vec4s w * TILE / 4 + l + WG * k, k < K / 4,
//   so the tiles and the parts layout are those of `partial`.
// entry `finish`: a single workgroup
//   1 storage read       parts: array<f32>, n_parts
//   2 storage read_write norm: array<f32>, 1 element: sqrt(sum of parts)
//   Lane l adds parts l, l + WG, ... (n_parts / WG iterations, far under llvmpipe's
//   65,535-iteration cap for any gradient set that fits in memory), then the tree.
// entries `scale` / `scale4`: one element (vec4) of one gradient per invocation
//   1 storage read_write g: array<f32> (array<vec4<f32>> for scale4; n counts vec4s)
//   2 storage read       norm: array<f32>, 1 element
// WG 256 (a power of two for the tree). K 64 (tiles of 16,384 elements): fewer,
// longer tiles than K 16 halved the time on lavapipe (benches/NOTES.md, Losses and optimisers).

struct Params {
    n: u32,
    offset: u32,
    n_parts: u32,
    max_norm: f32,
}

override WG: u32 = 256u;
override K: u32 = 64u;

@group(0) @binding(0) var<uniform> u: Params;
// partial
@group(0) @binding(1) var<storage, read> g_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> parts: array<f32>;
// partial4
@group(0) @binding(1) var<storage, read> g4_in: array<vec4<f32>>;
// finish
@group(0) @binding(1) var<storage, read> parts_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm_out: array<f32>;
// scale, scale4
@group(0) @binding(1) var<storage, read_write> g1: array<f32>;
@group(0) @binding(1) var<storage, read_write> g4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> norm_in: array<f32>;

var<workgroup> sh: array<f32, WG>;

// Sum of v over the workgroup in a fixed tree order; every lane gets the result.
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

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let w = wid.x + wid.y * nwg.x;
    let base = w * WG * K + lid;
    var s = 0.0;
    for (var k = 0u; k < K; k = k + 1u) {
        let i = base + k * WG;
        if (i < u.n) {
            let x = g_in[i];
            s = s + x * x;
        }
    }
    let total = tree_sum(lid, s);
    if (lid == 0u && w * WG * K < u.n) {
        parts[u.offset + w] = total;
    }
}

@compute @workgroup_size(WG)
fn partial4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let w = wid.x + wid.y * nwg.x;
    let base = w * WG * (K / 4u) + lid;
    let n4 = u.n / 4u;
    var s = 0.0;
    for (var k = 0u; k < K / 4u; k = k + 1u) {
        let j = base + k * WG;
        if (j < n4) {
            let x = g4_in[j];
            s = s + dot(x, x);
        }
    }
    let total = tree_sum(lid, s);
    if (lid == 0u && w * WG * K < u.n) {
        parts[u.offset + w] = total;
    }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var j = lid; j < u.n_parts; j = j + WG) {
        s = s + parts_in[j];
    }
    let total = tree_sum(lid, s);
    if (lid == 0u) {
        norm_out[0] = sqrt(total);
    }
}

fn coef() -> f32 {
    return min(1.0, u.max_norm / (norm_in[0] + 1e-6));
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= u.n) {
        return;
    }
    g1[i] = g1[i] * coef();
}

@compute @workgroup_size(WG)
fn scale4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= u.n) {
        return;
    }
    g4[i] = g4[i] * coef();
}
