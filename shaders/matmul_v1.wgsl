// matmul_v1: C = op(A) op(B) (+ bias), the naive port of the reference.
//
// bindings
//   0 uniform Params: m, n, k, batch; stride_a, stride_b (elements between batch
//     entries, 0 = broadcast); splits, k_chunk (split-K: chunk s covers
//     k in [s * k_chunk, min(k, (s + 1) * k_chunk))); tiles_n, tiles_m (unused here);
//     batch_base (first batch entry of this dispatch)
//   1 storage read       a: array<f32>, [batch_a, m, k] ([batch_a, k, m] when TA)
//   2 storage read       b: array<f32>, [batch_b, k, n] ([batch_b, n, k] when TB)
//   3 storage read       bias: array<f32>, [n] (BIAS 1) or [m] (BIAS 2); unused (BIAS 0)
//   4 storage read_write out: array<f32>, [batch, m, n] when splits == 1, else the
//     partial sums [splits, batch, m, n] (bias left to matmul_reduce_v1)
// One invocation per output element and K chunk; workgroup (x, y) flat over m * n,
// z = (batch entry - batch_base) * splits + chunk. WG 64: small enough that thin matrices fill workgroups.
// Overrides TA, TB (transposed storage) and BIAS (0 none, 1 per column, 2 per row).
// The loop runs at most k_chunk times (the host keeps it under llvmpipe's cap).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    stride_a: u32,
    stride_b: u32,
    splits: u32,
    k_chunk: u32,
    tiles_n: u32,
    tiles_m: u32,
    batch_base: u32,
    _p0: u32,
}

override WG: u32 = 64u;
override TA: bool = false;
override TB: bool = false;
override BIAS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    let mn = p.m * p.n;
    if (i >= mn) {
        return;
    }
    let bat = p.batch_base + wid.z / p.splits;
    let s = wid.z % p.splits;
    let row = i / p.n;
    let col = i % p.n;
    let k0 = s * p.k_chunk;
    let k1 = min(p.k, k0 + p.k_chunk);
    let a0 = bat * p.stride_a;
    let b0 = bat * p.stride_b;
    var acc = 0.0;
    for (var kk = k0; kk < k1; kk = kk + 1u) {
        var av: f32;
        var bv: f32;
        if (TA) {
            av = a[a0 + kk * p.m + row];
        } else {
            av = a[a0 + row * p.k + kk];
        }
        if (TB) {
            bv = b[b0 + col * p.k + kk];
        } else {
            bv = b[b0 + kk * p.n + col];
        }
        acc = acc + av * bv;
    }
    if (p.splits > 1u) {
        out[(s * p.batch + bat) * mn + i] = acc;
        return;
    }
    if (BIAS == 1u) {
        acc = acc + bias[col];
    } else if (BIAS == 2u) {
        acc = acc + bias[row];
    }
    out[bat * mn + i] = acc;
}
