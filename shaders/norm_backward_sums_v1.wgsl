// norm_backward_sums_v1: partial sums (sum g', sum g' * xhat) over chunks of each set,
// for any shape (scalar loads); g' = g, or g where the fused ReLU passed
// (x * scale + shift > 0), and xhat = (x - mean) * rstd.
//
// Sets as in norm_stats_v1: run r of set s starts at s * set_stride + r * run_stride.
// Batch norm: set = channel. Group norm: set = plane (sample, channel).
//
// bindings
//   0 uniform Params { n_sets, runs, run_len, run_stride, set_stride, chunk, n_chunks }
//   1 storage read       x: array<f32>  forward input
//   2 storage read       g: array<f32>  gradient of the output
//   3 storage read       coef: array<vec4<f32>>, [n_sets]: (scale, shift, mean, rstd)
//   4 storage read_write parts: array<vec2<f32>>, [n_sets, n_chunks]
// One invocation per (set, chunk); chunk <= 2048 keeps loops under llvmpipe's cap.
// WG 256.

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
override RELU: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> parts: array<vec2<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if (t >= p.n_sets * p.n_chunks) {
        return;
    }
    let s = t / p.n_chunks;
    let k = t % p.n_chunks;
    let cf = coef[s];
    let m0 = k * p.chunk;
    let m1 = min(p.runs * p.run_len, m0 + p.chunk);
    var a = 0.0;
    var b = 0.0;
    for (var m = m0; m < m1; m = m + 1u) {
        let o = s * p.set_stride + (m / p.run_len) * p.run_stride + m % p.run_len;
        let xv = x[o];
        var gv = g[o];
        if (RELU != 0u && !(fma(xv, cf.x, cf.y) > 0.0)) {
            gv = 0.0;
        }
        a = a + gv;
        b = b + gv * ((xv - cf.z) * cf.w);
    }
    parts[t] = vec2<f32>(a, b);
}
