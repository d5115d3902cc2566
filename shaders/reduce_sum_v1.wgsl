// reduce_sum_v1: partial sums over a set of reduced dimensions, in a fixed order.
//
// bindings
//   0 uniform Params: n_out (kept elements), n_red (reduced elements per kept one),
//     chunk (reduced elements per invocation), n_chunks = ceil(n_red / chunk), and
//     for the kept and the reduced dimensions their sizes and input strides (vec4s)
//   1 storage read       x: array<f32>
//   2 storage read_write out: array<f32>, n_out * n_chunks partial sums,
//     out[o * n_chunks + k] = sum of reduced elements k*chunk .. (k+1)*chunk of o
// One invocation per (kept element, chunk). The caller sums the partials again
// until one chunk is left, so every sum has a fixed order (deterministic) and no
// invocation loops more than chunk * (rank + 1) times (llvmpipe caps loops at 65535).

struct Params {
    n_out: u32,
    n_red: u32,
    chunk: u32,
    n_chunks: u32,
    kept_rank: u32,
    red_rank: u32,
    _p0: u32,
    _p1: u32,
    kept_shape: array<vec4<u32>, 2>,
    kept_stride: array<vec4<u32>, 2>,
    red_shape: array<vec4<u32>, 2>,
    red_stride: array<vec4<u32>, 2>,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if (t >= p.n_out * p.n_chunks) {
        return;
    }
    let o = t / p.n_chunks;
    let k = t % p.n_chunks;
    var rest = o;
    var base = 0u;
    for (var d = i32(p.kept_rank) - 1; d >= 0; d = d - 1) {
        let size = p.kept_shape[d / 4][d % 4];
        base = base + (rest % size) * p.kept_stride[d / 4][d % 4];
        rest = rest / size;
    }
    let r0 = k * p.chunk;
    let r1 = min(p.n_red, r0 + p.chunk);
    var s = 0.0;
    for (var r = r0; r < r1; r = r + 1u) {
        var rr = r;
        var off = base;
        for (var d = i32(p.red_rank) - 1; d >= 0; d = d - 1) {
            let size = p.red_shape[d / 4][d % 4];
            off = off + (rr % size) * p.red_stride[d / 4][d % 4];
            rr = rr / size;
        }
        s = s + x[off];
    }
    out[t] = s;
}
