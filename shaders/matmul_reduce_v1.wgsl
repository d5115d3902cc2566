// matmul_reduce_v1: the second pass of split-K, out = sum of the K-chunk partial
// products in chunk order (deterministic), plus the bias.
//
// bindings
//   0 uniform Params: total (= batch * m * n), splits, m, n
//   1 storage read       part: array<f32>, [splits, batch, m, n]
//   2 storage read       bias: array<f32>, [n] (BIAS 1) or [m] (BIAS 2); unused (BIAS 0)
//   3 storage read_write out: array<f32>, [batch, m, n]
// One invocation per output element; it loops `splits` times (under 65,535: the
// split count is a workgroup-grid dimension). WG 256: fewest workgroups.

struct Params {
    total: u32,
    splits: u32,
    m: u32,
    n: u32,
}

override WG: u32 = 256u;
override BIAS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.total) {
        return;
    }
    var acc = 0.0;
    for (var s = 0u; s < p.splits; s = s + 1u) {
        acc = acc + part[s * p.total + i];
    }
    if (BIAS == 1u) {
        acc = acc + bias[i % p.n];
    } else if (BIAS == 2u) {
        acc = acc + bias[(i / p.n) % p.m];
    }
    out[i] = acc;
}
