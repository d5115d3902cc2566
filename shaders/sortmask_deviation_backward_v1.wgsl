// sortmask_deviation_backward_v1: VJP of d = |f - mean(f)| per row.
//
// bindings
//   0 uniform Params: rows, n
//   1 storage read       f: array<f32>, [rows, n]
//   2 storage read       mu: array<f32>, [rows], the forward's row means
//   3 storage read       gd: array<f32>, [rows, n], gradient of d
//   4 storage read_write df: array<f32>, [rows, n]
// With t_i = gd_i sign(f_i - mu) (sign(0) = 0): df_i = t_i - (sum_j t_j) / n.
// One workgroup per row, the sum by a fixed tree in workgroup memory; per lane
// 2 * ceil(n / WG) + log2(WG) loop iterations. WG 256 (a power of two for the tree).

struct Params {
    rows: u32,
    n: u32,
    _p0: u32,
    _p1: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read> mu: array<f32>;
@group(0) @binding(3) var<storage, read> gd: array<f32>;
@group(0) @binding(4) var<storage, read_write> df: array<f32>;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.n;
    let m = mu[row];
    var s = 0.0;
    for (var i = lid; i < p.n; i = i + WG) {
        s = s + gd[base + i] * sign(f[base + i] - m);
    }
    part[lid] = s;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h = h / 2u) {
        if (lid < h) {
            part[lid] = part[lid] + part[lid + h];
        }
        workgroupBarrier();
    }
    let mean_t = part[0] / f32(p.n);
    for (var i = lid; i < p.n; i = i + WG) {
        df[base + i] = gd[base + i] * sign(f[base + i] - m) - mean_t;
    }
}
