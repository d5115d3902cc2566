// sortmask_deviation_forward_v2: per row, the mean and the absolute deviations; one
// invocation per row with vec4 loads (no barriers).
//
// bindings
//   0 uniform Params: rows, n (a multiple of 4)
//   1 storage read       f: array<vec4<f32>>, [rows, n / 4]
//   2 storage read_write d: array<vec4<f32>>, [rows, n / 4], |f - mu|
//   3 storage read_write mu: array<f32>, [rows], the row mean
// One invocation per row: four running sums over the row's vec4s (a fixed order),
// then d. 2 * n / 4 loop iterations per invocation (n < 131,072 under the loop cap).
// WG 64: rows per workgroup (2048 rows of SortMask make 32 workgroups).

struct Params {
    rows: u32,
    n: u32,
    _p0: u32,
    _p1: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> d: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> mu: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = (wid.x + wid.y * nwg.x) * WG + lid;
    if (row >= p.rows) {
        return;
    }
    let n4 = p.n / 4u;
    let base = row * n4;
    var s = vec4<f32>(0.0);
    for (var k = 0u; k < n4; k = k + 1u) {
        s = s + f[base + k];
    }
    let m = ((s.x + s.y) + (s.z + s.w)) / f32(p.n);
    mu[row] = m;
    for (var k = 0u; k < n4; k = k + 1u) {
        d[base + k] = abs(f[base + k] - vec4<f32>(m));
    }
}
