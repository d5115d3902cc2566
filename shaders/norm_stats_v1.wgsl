// norm_stats_v1: partial statistics (count, mean, M2) of x over chunks of each set of
// elements one normalisation shares, for any shape (scalar loads).
//
// A set is `runs` runs of `run_len` contiguous elements; run r of set s starts at
// s * set_stride + r * run_stride. Batch norm: set = channel, runs = the N planes of
// it. Group norm: set = (sample, group), one run of C/G planes.
//
// bindings
//   0 uniform Params { n_sets, runs, run_len, run_stride, set_stride, chunk, n_chunks }
//   1 storage read       x: array<f32>
//   2 storage read_write parts: array<vec4<f32>>, [n_sets, n_chunks]:
//     (count, mean, M2 = sum (x - mean)^2, 0) of elements k*chunk .. (k+1)*chunk of set s
// One invocation per (set, chunk). Each sums x - shift and its square, with the
// chunk's first value as the shift (no cancellation unless that value lies far out),
// then turns them into (mean, M2); the finalize pass combines chunks with Chan's
// formula in a fixed order. The caller keeps chunk <= 2048, under llvmpipe's
// 65,535-iteration loop cap. WG 256: fewest workgroups.

struct Params {
    n_sets: u32,
    runs: u32,
    run_len: u32,
    run_stride: u32,
    set_stride: u32,
    chunk: u32,
    n_chunks: u32,
    _p0: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> parts: array<vec4<f32>>;

fn offset(s: u32, m: u32) -> u32 {
    return s * p.set_stride + (m / p.run_len) * p.run_stride + m % p.run_len;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if (t >= p.n_sets * p.n_chunks) {
        return;
    }
    let s = t / p.n_chunks;
    let k = t % p.n_chunks;
    let m0 = k * p.chunk;
    let m1 = min(p.runs * p.run_len, m0 + p.chunk);
    let shift = x[offset(s, m0)];
    var s1 = 0.0;
    var s2 = 0.0;
    for (var m = m0; m < m1; m = m + 1u) {
        let d = x[offset(s, m)] - shift;
        s1 = s1 + d;
        s2 = s2 + d * d;
    }
    let n = f32(m1 - m0);
    parts[t] = vec4<f32>(n, shift + s1 / n, max(s2 - s1 * s1 / n, 0.0), 0.0);
}
