// sortmask_apply_backward_v2: VJP of out = mu + (f - mu) g, g = sigmoid(a r + b),
// mu = mean(f) per row; one invocation per row with vec4 loads (no barriers).
//
// bindings
//   0 uniform Params: rows, n (a multiple of 4), a, b (as the forward)
//   1 storage read       f: array<vec4<f32>>, [rows, n / 4]
//   2 storage read       mu: array<f32>, [rows]
//   3 storage read       r: array<vec4<f32>>, [rows, n / 4]
//   4 storage read       go: array<vec4<f32>>, [rows, n / 4], gradient of out
//   5 storage read_write df: array<vec4<f32>>, [rows, n / 4]
//   6 storage read_write dr: array<vec4<f32>>, [rows, n / 4]
// df_i = go_i g_i + (sum_j go_j (1 - g_j)) / n; dr_i = go_i (f_i - mu) g'_i a. Four
// running sums (a fixed order); 2 * n / 4 loop iterations per invocation.
// WG 64: rows per workgroup.

struct Params {
    rows: u32,
    n: u32,
    a: f32,
    b: f32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> mu: array<f32>;
@group(0) @binding(3) var<storage, read> r: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> go: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> df: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> dr: array<vec4<f32>>;

// (gate, gate') at t.
fn gate(t: vec4<f32>) -> array<vec4<f32>, 2> {
    let e = exp(-abs(t));
    let q = 1.0 / (1.0 + e);
    return array<vec4<f32>, 2>(select(e * q, q, t >= vec4<f32>(0.0)), e * q * q);
}

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
        s = s + go[base + k] * (1.0 - gate(p.a * r[base + k] + p.b)[0]);
    }
    let mean_s = vec4<f32>(((s.x + s.y) + (s.z + s.w)) / f32(p.n));
    for (var k = 0u; k < n4; k = k + 1u) {
        let gg = gate(p.a * r[base + k] + p.b);
        let gv = go[base + k];
        df[base + k] = gv * gg[0] + mean_s;
        dr[base + k] = gv * (f[base + k] - m) * gg[1] * p.a;
    }
}
