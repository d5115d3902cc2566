// sortmask_apply_backward_v1: VJP of out = mu + (f - mu) g, g = sigmoid(a r + b),
// mu = mean(f) per row, w.r.t. f (directly and through mu) and the ranks r.
//
// bindings
//   0 uniform Params: rows, n, a, b (as the forward)
//   1 storage read       f: array<f32>, [rows, n]
//   2 storage read       mu: array<f32>, [rows]
//   3 storage read       r: array<f32>, [rows, n]
//   4 storage read       go: array<f32>, [rows, n], gradient of out
//   5 storage read_write df: array<f32>, [rows, n]
//   6 storage read_write dr: array<f32>, [rows, n]
// df_i = go_i g_i + (sum_j go_j (1 - g_j)) / n; dr_i = go_i (f_i - mu) g'_i a.
// One workgroup per row, the sum by a fixed tree in workgroup memory; per lane
// 2 * ceil(n / WG) + log2(WG) loop iterations. WG 256 (a power of two for the tree).

struct Params {
    rows: u32,
    n: u32,
    a: f32,
    b: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read> mu: array<f32>;
@group(0) @binding(3) var<storage, read> r: array<f32>;
@group(0) @binding(4) var<storage, read> go: array<f32>;
@group(0) @binding(5) var<storage, read_write> df: array<f32>;
@group(0) @binding(6) var<storage, read_write> dr: array<f32>;

var<workgroup> part: array<f32, WG>;

fn sigm(t: f32) -> f32 {
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    return select(e * s, s, t >= 0.0);
}

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
        s = s + go[base + i] * (1.0 - sigm(p.a * r[base + i] + p.b));
    }
    part[lid] = s;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h = h / 2u) {
        if (lid < h) {
            part[lid] = part[lid] + part[lid + h];
        }
        workgroupBarrier();
    }
    let mean_s = part[0] / f32(p.n);
    for (var i = lid; i < p.n; i = i + WG) {
        let t = p.a * r[base + i] + p.b;
        let e = exp(-abs(t));
        let q = 1.0 / (1.0 + e);
        let gate = select(e * q, q, t >= 0.0);
        let gv = go[base + i];
        df[base + i] = gv * gate + mean_s;
        dr[base + i] = gv * (f[base + i] - m) * e * q * q * p.a;
    }
}
