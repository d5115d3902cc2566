// softrank_pairwise_backward_v3: pairwise soft-rank VJP with (x_j, g_j) tiles in
// workgroup memory.
//
// bindings
//   0 uniform Params: rows, n, k = sign / tau, per_row = ceil(n / WG) blocks
//   1 storage read       x: array<f32>, [rows, n]
//   2 storage read       g: array<f32>, [rows, n], gradient of the ranks
//   3 storage read_write dx: array<f32>, [rows, n]
// One workgroup per (row, block of WG elements); one invocation per element i:
// dx_i = k sum_j sigmoid'(k (x_i - x_j)) (g_i - g_j), the row streamed through
// workgroup memory WG pairs at a time. ceil(n / WG) * (WG + 1) iterations per invocation.
// WG 256 (override): one tile load per 256 elements.

struct Params {
    rows: u32,
    n: u32,
    k: f32,
    per_row: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

var<workgroup> tile_x: array<f32, WG>;
var<workgroup> tile_g: array<f32, WG>;

fn dsigm(t: f32) -> f32 {
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    return e * s * s;
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
    let gi = g[base + min(i, p.n - 1u)];
    var acc = 0.0;
    for (var j0 = 0u; j0 < p.n; j0 = j0 + WG) {
        let j = base + min(j0 + lid, p.n - 1u);
        tile_x[lid] = x[j];
        tile_g[lid] = g[j];
        workgroupBarrier();
        let len = min(WG, p.n - j0);
        for (var jj = 0u; jj < len; jj = jj + 1u) {
            acc = acc + dsigm(p.k * (xi - tile_x[jj])) * (gi - tile_g[jj]);
        }
        workgroupBarrier();
    }
    if (i < p.n) {
        dx[base + i] = p.k * acc;
    }
}
