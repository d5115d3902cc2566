// pool_global_avg_forward_v1: scaled sums of row chunks, the two passes of global
// average pooling ([N*C, H*W] -> [N*C]) and the naive port (scalar loads).
//
// bindings
//   0 uniform Params { rows, len: row length, chunk, n_chunks = ceil(len / chunk),
//     scale }
//   1 storage read       src: array<f32>, [rows, len]
//   2 storage read_write dst: array<f32>, [rows, n_chunks]:
//     scale * sum of src[r, k*chunk .. (k+1)*chunk]
// Pass 1 reads the planes (scale 1/(H*W) when one chunk covers a plane, else 1);
// pass 2 sums the chunk partials of each plane (len = chunk = n_chunks, scale
// 1/(H*W)). Fixed order: deterministic. chunk <= 16384 keeps loops under llvmpipe's
// cap. One invocation per (row, chunk); WG 64 (few rows in the CNN, 1024 to 4096).

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
@group(0) @binding(1) var<storage, read> src: array<f32>;
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
    var s = 0.0;
    for (var m = m0; m < m1; m = m + 1u) {
        s = s + src[r * p.len + m];
    }
    dst[t] = s * p.scale;
}
