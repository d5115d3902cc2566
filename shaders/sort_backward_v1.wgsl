// sort_backward_v1: gradient of sorted / top-k values: dx[row, idx[row, j]] = g[row, j].
//
// bindings
//   0 uniform Params: rows, n, kout
//   1 storage read       idx: array<f32>, [rows, kout], input indices (exact f32 integers)
//   2 storage read       g: array<f32>, [rows, kout]
//   3 storage read_write dx: array<f32>, [rows, n], zeroed by the host where kout < n
// One invocation per (row, j < kout); the indices of a row are distinct, so no two
// invocations write the same element. WG 256: fewest workgroups.

struct Params {
    rows: u32,
    n: u32,
    kout: u32,
    _p0: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.rows * p.kout) {
        return;
    }
    let row = e / p.kout;
    dx[row * p.n + u32(idx[e])] = g[e];
}
