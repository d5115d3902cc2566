// softrank_pairwise_backward_v1: vector-Jacobian product of the pairwise soft rank,
// the naive port.
//
// bindings
//   0 uniform Params: rows, n, k = sign / tau
//   1 storage read       x: array<f32>, [rows, n]
//   2 storage read       g: array<f32>, [rows, n], gradient of the ranks
//   3 storage read_write dx: array<f32>, [rows, n]
// One invocation per element (row, i): dx_i = k sum_j sigmoid'(k (x_i - x_j)) (g_i - g_j)
// (the j = i term is zero). The loop runs n times (n <= 32768, under the loop cap).
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
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// sigmoid'(t) = e / (1 + e)^2, e = exp(-|t|).
fn dsigm(t: f32) -> f32 {
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    return e * s * s;
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
    let gi = g[e];
    var acc = 0.0;
    for (var j = 0u; j < p.n; j = j + 1u) {
        acc = acc + dsigm(p.k * (xi - x[base + j])) * (gi - g[base + j]);
    }
    dx[e] = p.k * acc;
}
