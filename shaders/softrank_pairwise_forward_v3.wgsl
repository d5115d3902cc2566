// softrank_pairwise_forward_v3: pairwise soft ranks with x_j tiles in workgroup memory
// (the style real GPUs reward).
//
// bindings
//   0 uniform Params: rows, n, k = sign / tau, per_row = ceil(n / WG) blocks
//   1 storage read       x: array<f32>, [rows, n]
//   2 storage read_write r: array<f32>, [rows, n]
// One workgroup per (row, block of WG elements); one invocation per element i. The
// row is streamed through workgroup memory WG values at a time, each value loaded
// once per workgroup: r_i = 1/2 + sum over all j of sigmoid(k (x_i - x_j)).
// Per invocation ceil(n / WG) * (WG + 1) loop iterations (n <= 32768: under the cap).
// WG 256 (override; 64..256 work): one tile load per 256 elements.

struct Params {
    rows: u32,
    n: u32,
    k: f32,
    per_row: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> r: array<f32>;

var<workgroup> tile: array<f32, WG>;

fn sigm(t: f32) -> f32 {
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    return select(e * s, s, t >= 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = wid.x + wid.y * nwg.x;
    if (w >= p.rows * p.per_row) {
        return;
    }
    let base = (w / p.per_row) * p.n;
    let i = (w % p.per_row) * WG + lid;
    let xi = x[base + min(i, p.n - 1u)];
    var acc = 0.5;
    for (var j0 = 0u; j0 < p.n; j0 = j0 + WG) {
        let j = j0 + lid;
        tile[lid] = x[base + min(j, p.n - 1u)];
        workgroupBarrier();
        let len = min(WG, p.n - j0);
        for (var jj = 0u; jj < len; jj = jj + 1u) {
            acc = acc + sigm(p.k * (xi - tile[jj]));
        }
        workgroupBarrier();
    }
    if (i < p.n) {
        r[base + i] = acc;
    }
}
