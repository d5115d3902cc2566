// sortmask_deviation_backward_v2: VJP of d = |f - mean(f)| per row; one invocation per
// row with vec4 loads (no barriers).
//
// bindings
//   0 uniform Params: rows, n (a multiple of 4)
//   1 storage read       f: array<vec4<f32>>, [rows, n / 4]
//   2 storage read       mu: array<f32>, [rows]
//   3 storage read       gd: array<vec4<f32>>, [rows, n / 4], gradient of d
//   4 storage read_write df: array<vec4<f32>>, [rows, n / 4]
// With t_i = gd_i sign(f_i - mu) (sign(0) = 0): df_i = t_i - (sum_j t_j) / n. Four
// running sums (a fixed order); 2 * n / 4 loop iterations per invocation.
// WG 64: rows per workgroup.

struct Params {
    rows: u32,
    n: u32,
    _p0: u32,
    _p1: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> mu: array<f32>;
@group(0) @binding(3) var<storage, read> gd: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> df: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = (wid.x + wid.y * nwg.x) * WG + lid;
    if (row >= p.rows) {
        return;
    }
    let n4 = p.n / 4u;
    let base = row * n4;
    let m = vec4<f32>(mu[row]);
    var s = vec4<f32>(0.0);
    for (var k = 0u; k < n4; k = k + 1u) {
        s = s + gd[base + k] * sign(f[base + k] - m);
    }
    let mean_t = vec4<f32>(((s.x + s.y) + (s.z + s.w)) / f32(p.n));
    for (var k = 0u; k < n4; k = k + 1u) {
        df[base + k] = gd[base + k] * sign(f[base + k] - m) - mean_t;
    }
}
