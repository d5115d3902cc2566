// pool_global_avg_forward_v2: the first pass of global average pooling with vec4
// loads (H*W divisible by 4); the second pass, when a plane spans several chunks, is
// pool_global_avg_forward_v1.
//
// bindings
//   0 uniform Params { rows: N*C, len: H*W / 4, chunk: vec4s per chunk, n_chunks,
//     scale }
//   1 storage read       src: array<vec4<f32>>, [rows, len]
//   2 storage read_write dst: array<f32>, [rows, n_chunks]: scale * chunk sums
// One invocation per (row, chunk); four running sums (one per component) are added
// at the end. chunk <= 16384 iterations. WG 64.

struct Params {
    rows: u32,
    len: u32,
    chunk: u32,
    n_chunks: u32,
    scale: f32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    if (t >= p.rows * p.n_chunks) {
        return;
    }
    let r = t / p.n_chunks;
    let k = t % p.n_chunks;
    let m0 = k * p.chunk;
    let m1 = min(p.len, m0 + p.chunk);
    var s = vec4<f32>(0.0);
    for (var m = m0; m < m1; m = m + 1u) {
        s = s + src[r * p.len + m];
    }
    dst[t] = ((s.x + s.y) + (s.z + s.w)) * p.scale;
}
