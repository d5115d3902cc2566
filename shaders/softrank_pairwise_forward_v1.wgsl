// softrank_pairwise_forward_v1: soft ranks by pairwise sigmoids, the naive port.
//
// bindings
//   0 uniform Params: rows, n, k = sign / tau (sign +1 ascending, -1 descending)
//   1 storage read       x: array<f32>, [rows, n]
//   2 storage read_write r: array<f32>, [rows, n]
// One invocation per element (row, i): r_i = 1 + sum_{j != i} sigmoid(k (x_i - x_j)),
// computed as 1/2 + sum over all j (the j = i term is sigmoid(0) = 1/2). The loop runs
// n times (n <= 32768, under llvmpipe's 65,535-iteration cap).
// WG 256: fewest workgroups; nothing is shared.

struct Params {
    rows: u32,
    n: u32,
    k: f32,
    _p0: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> r: array<f32>;

// 1 / (1 + exp(-t)) without overflow on either side.
fn sigm(t: f32) -> f32 {
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    return select(e * s, s, t >= 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.rows * p.n) {
        return;
    }
    let base = (e / p.n) * p.n;
    let xi = x[e];
    var acc = 0.5;
    for (var j = 0u; j < p.n; j = j + 1u) {
        acc = acc + sigm(p.k * (xi - x[base + j]));
    }
    r[e] = acc;
}
