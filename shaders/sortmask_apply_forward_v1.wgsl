// sortmask_apply_forward_v1: out = mu + (f - mu) * sigmoid(a r + b) per element.
//
// bindings
//   0 uniform Params: count (elements), n (row length), a, b: the gate
//     g = sigmoid((u - q) / T) with u = (r - 1) / (n - 1) is sigmoid(a r + b)
//     (a = 0, b = (1 - q) / T when n = 1)
//   1 storage read       f: array<f32>, [rows, n]
//   2 storage read       mu: array<f32>, [rows]
//   3 storage read       r: array<f32>, [rows, n], soft ranks of |f - mu|
//   4 storage read_write out: array<f32>, [rows, n]
// One invocation per element. WG 256: fewest workgroups.

struct Params {
    count: u32,
    n: u32,
    a: f32,
    b: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read> mu: array<f32>;
@group(0) @binding(3) var<storage, read> r: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn sigm(t: f32) -> f32 {
    let e = exp(-abs(t));
    let s = 1.0 / (1.0 + e);
    return select(e * s, s, t >= 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.count) {
        return;
    }
    let m = mu[i / p.n];
    out[i] = m + (f[i] - m) * sigm(p.a * r[i] + p.b);
}
