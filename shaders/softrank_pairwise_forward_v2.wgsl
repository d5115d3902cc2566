// softrank_pairwise_forward_v2: pairwise soft ranks with a register tile of 8 elements.
//
// bindings
//   0 uniform Params: rows, n, k = sign / tau, per_row = ceil(n / 8) tiles
//   1 storage read       x: array<f32>, [rows, n]
//   2 storage read_write r: array<f32>, [rows, n]
// One invocation per (row, tile of 8 consecutive elements i0..i0+7, clipped to n):
// keeps the 8 x_i in two vec4 registers and streams x_j once, so one load feeds 8
// sigmoids (per-lane loads are what costs on CPU drivers). r_i = 1/2 + sum over all j
// of sigmoid(k (x_i - x_j)). The loop runs n times (n <= 32768, under the loop cap).
// WG 64: rows * n / 8 invocations is small for small batches; 64 keeps both cores busy.

struct Params {
    rows: u32,
    n: u32,
    k: f32,
    per_row: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> r: array<f32>;

fn sigm4(t: vec4<f32>) -> vec4<f32> {
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    return select(e * s, s, t >= vec4<f32>(0.0));
}

fn load(base: u32, i: u32) -> f32 {
    return select(0.0, x[base + min(i, p.n - 1u)], i < p.n);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if (t >= p.rows * p.per_row) {
        return;
    }
    let row = t / p.per_row;
    let i0 = (t % p.per_row) * 8u;
    let base = row * p.n;
    let xa = vec4<f32>(load(base, i0), load(base, i0 + 1u), load(base, i0 + 2u), load(base, i0 + 3u));
    let xb = vec4<f32>(load(base, i0 + 4u), load(base, i0 + 5u), load(base, i0 + 6u), load(base, i0 + 7u));
    var acc_a = vec4<f32>(0.5);
    var acc_b = vec4<f32>(0.5);
    for (var j = 0u; j < p.n; j = j + 1u) {
        let xj = vec4<f32>(x[base + j]);
        acc_a = acc_a + sigm4(p.k * (xa - xj));
        acc_b = acc_b + sigm4(p.k * (xb - xj));
    }
    for (var q = 0u; q < 4u; q = q + 1u) {
        if (i0 + q < p.n) {
            r[base + i0 + q] = acc_a[q];
        }
        if (i0 + 4u + q < p.n) {
            r[base + i0 + 4u + q] = acc_b[q];
        }
    }
}
