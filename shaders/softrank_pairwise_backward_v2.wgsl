// softrank_pairwise_backward_v2: pairwise soft-rank VJP with a register tile of 8
// elements.
//
// bindings
//   0 uniform Params: rows, n, k = sign / tau, per_row = ceil(n / 8) tiles
//   1 storage read       x: array<f32>, [rows, n]
//   2 storage read       g: array<f32>, [rows, n], gradient of the ranks
//   3 storage read_write dx: array<f32>, [rows, n]
// One invocation per (row, tile of 8 consecutive elements, clipped to n): keeps their
// x_i and g_i in registers and streams (x_j, g_j) once, so two loads feed 8 terms of
// dx_i = k sum_j sigmoid'(k (x_i - x_j)) (g_i - g_j). The loop runs n times (n <= 32768).
// WG 64: see the forward.

struct Params {
    rows: u32,
    n: u32,
    k: f32,
    per_row: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn dsigm4(t: vec4<f32>) -> vec4<f32> {
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    return e * s * s;
}

fn load_x(base: u32, i: u32) -> f32 {
    return select(0.0, x[base + min(i, p.n - 1u)], i < p.n);
}

fn load_g(base: u32, i: u32) -> f32 {
    return select(0.0, g[base + min(i, p.n - 1u)], i < p.n);
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
    let xa = vec4<f32>(load_x(base, i0), load_x(base, i0 + 1u), load_x(base, i0 + 2u), load_x(base, i0 + 3u));
    let xb = vec4<f32>(load_x(base, i0 + 4u), load_x(base, i0 + 5u), load_x(base, i0 + 6u), load_x(base, i0 + 7u));
    let ga = vec4<f32>(load_g(base, i0), load_g(base, i0 + 1u), load_g(base, i0 + 2u), load_g(base, i0 + 3u));
    let gb = vec4<f32>(load_g(base, i0 + 4u), load_g(base, i0 + 5u), load_g(base, i0 + 6u), load_g(base, i0 + 7u));
    var acc_a = vec4<f32>(0.0);
    var acc_b = vec4<f32>(0.0);
    for (var j = 0u; j < p.n; j = j + 1u) {
        let xj = vec4<f32>(x[base + j]);
        let gj = vec4<f32>(g[base + j]);
        acc_a = acc_a + dsigm4(p.k * (xa - xj)) * (ga - gj);
        acc_b = acc_b + dsigm4(p.k * (xb - xj)) * (gb - gj);
    }
    for (var q = 0u; q < 4u; q = q + 1u) {
        if (i0 + q < p.n) {
            dx[base + i0 + q] = p.k * acc_a[q];
        }
        if (i0 + 4u + q < p.n) {
            dx[base + i0 + 4u + q] = p.k * acc_b[q];
        }
    }
}
