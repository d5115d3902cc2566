// sortmask_deviation_forward_v1: per row, the mean and the absolute deviations.
//
// bindings
//   0 uniform Params: rows, n
//   1 storage read       f: array<f32>, [rows, n] (rows = B * C, n = H * W)
//   2 storage read_write d: array<f32>, [rows, n], |f - mu|
//   3 storage read_write mu: array<f32>, [rows], the row mean
// One workgroup per row: each lane sums a strided part of the row, a tree in
// workgroup memory adds the WG partial sums (a fixed order: deterministic), then the
// lanes write d. Per lane 2 * ceil(n / WG) + log2(WG) loop iterations.
// WG 256 (a power of two for the tree).

struct Params {
    rows: u32,
    n: u32,
    _p0: u32,
    _p1: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read_write> d: array<f32>;
@group(0) @binding(3) var<storage, read_write> mu: array<f32>;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.n;
    var s = 0.0;
    for (var i = lid; i < p.n; i = i + WG) {
        s = s + f[base + i];
    }
    part[lid] = s;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h = h / 2u) {
        if (lid < h) {
            part[lid] = part[lid] + part[lid + h];
        }
        workgroupBarrier();
    }
    let m = part[0] / f32(p.n);
    if (lid == 0u) {
        mu[row] = m;
    }
    for (var i = lid; i < p.n; i = i + WG) {
        d[base + i] = abs(f[base + i] - m);
    }
}
