// matmul_v3: C = op(A) op(B) (+ bias), tiled through workgroup memory (real GPUs).
//
// bindings
//   0 uniform Params: as matmul_v1 (m, n, k, batch, stride_a, stride_b, splits,
//     k_chunk, tiles_n, tiles_m, batch_base)
//   1 storage read       a: array<f32>, [batch_a, m, k] ([batch_a, k, m] when TA)
//   2 storage read       b: array<f32>, [batch_b, k, n] ([batch_b, n, k] when TB)
//   3 storage read       bias: array<f32>, [n] (BIAS 1) or [m] (BIAS 2); unused (BIAS 0)
//   4 storage read_write out: array<f32>, [batch, m, n], or [splits, batch, m, n]
//     partial sums when splits > 1 (bias left to matmul_reduce_v1)
// A workgroup of 256 invocations (16 x 16) computes a 64 x 64 tile, each invocation a
// 4 x 4 block. K advances 16 at a time: the workgroup copies the 64 x 16 slices of A
// and B into workgroup memory (4 values each per invocation, consecutive invocations
// reading consecutive addresses in either layout), then every invocation reads its 4
// rows and 4 columns per k as two vec4 from there. 2 x 16 x 64 floats = 8 KiB of
// workgroup memory, within WebGPU's 16 KiB default.
// WG is fixed at 256 (16 x 16 invocations, the WebGPU default maximum).
// Grid: (x, y) flat over tiles_m * tiles_n, z = batch entry * splits + K chunk.
// Per invocation the K loop runs k_chunk / 16 times, each with 16 + 8 inner steps
// (the host keeps the total under llvmpipe's cap).

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

override WG: u32 = 256u;
override TA: bool = false;
override TB: bool = false;
override BIAS: u32 = 0u;

const TILE: u32 = 64u;
const BK: u32 = 16u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// sa[kk * 16 + i] = rows 4i .. 4i+3 of the tile at k = k_tile + kk; sb likewise columns.
var<workgroup> sa: array<vec4<f32>, 256>;
var<workgroup> sb: array<vec4<f32>, 256>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    // No early return before the K loop: every invocation reaches every barrier.
    let tile = wid.x + wid.y * nwg.x;
    let live = tile / p.tiles_n < p.tiles_m;
    let tm = min(tile / p.tiles_n, p.tiles_m - 1u);
    let tn = tile % p.tiles_n;
    let bat = p.batch_base + wid.z / p.splits;
    let s = wid.z % p.splits;
    let k0 = s * p.k_chunk;
    let k1 = min(p.k, k0 + p.k_chunk);
    let row0 = tm * TILE;
    let col0 = tn * TILE;
    let a0 = bat * p.stride_a;
    let b0 = bat * p.stride_b;
    let tx = lid % 16u;
    let ty = lid / 16u;

    // Rows ty*4 + i, columns tx*4 .. tx*4+3 (separate variables: CPU drivers spill
    // dynamically indexed arrays to memory).
    var c0 = vec4(0.0);
    var c1 = vec4(0.0);
    var c2 = vec4(0.0);
    var c3 = vec4(0.0);

    for (var kt = k0; kt < k1; kt = kt + BK) {
        // Copy the 64 x 16 slices: element e = lid + 256 q of each.
        for (var q = 0u; q < 4u; q = q + 1u) {
            let e = lid + 256u * q;
            var r: u32;
            var kk: u32;
            if (TA) {
                // a[k, m]: consecutive invocations read consecutive m.
                kk = e / TILE;
                r = e % TILE;
            } else {
                r = e / BK;
                kk = e % BK;
            }
            var v = 0.0;
            if (row0 + r < p.m && kt + kk < k1) {
                if (TA) {
                    v = a[a0 + (kt + kk) * p.m + row0 + r];
                } else {
                    v = a[a0 + (row0 + r) * p.k + kt + kk];
                }
            }
            sa[kk * 16u + r / 4u][r % 4u] = v;

            var c: u32;
            if (TB) {
                // b[n, k]: consecutive invocations read consecutive k.
                c = e / BK;
                kk = e % BK;
            } else {
                kk = e / TILE;
                c = e % TILE;
            }
            var w = 0.0;
            if (col0 + c < p.n && kt + kk < k1) {
                if (TB) {
                    w = b[b0 + (col0 + c) * p.k + kt + kk];
                } else {
                    w = b[b0 + (kt + kk) * p.n + col0 + c];
                }
            }
            sb[kk * 16u + c / 4u][c % 4u] = w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let x = sa[kk * 16u + ty];
            let y = sb[kk * 16u + tx];
            c0 = fma(vec4(x.x), y, c0);
            c1 = fma(vec4(x.y), y, c1);
            c2 = fma(vec4(x.z), y, c2);
            c3 = fma(vec4(x.w), y, c3);
        }
        workgroupBarrier();
    }

    if (!live) {
        return;
    }
    // The host sets BIAS = 0 when K is split (matmul_reduce_v1 adds it).
    let base = select(bat, s * p.batch + bat, p.splits > 1u) * p.m * p.n;
    let col = col0 + tx * 4u;
    store4(base, row0 + ty * 4u, col, c0);
    store4(base, row0 + ty * 4u + 1u, col, c1);
    store4(base, row0 + ty * 4u + 2u, col, c2);
    store4(base, row0 + ty * 4u + 3u, col, c3);
}

// Stores 4 columns from `col` of row `row` at `base`, clipped to the matrix, plus bias.
fn store4(base: u32, row: u32, col: u32, v: vec4<f32>) {
    if (row >= p.m) {
        return;
    }
    let o = base + row * p.n + col;
    var w = v;
    if (BIAS == 2u) {
        w = w + vec4(bias[row]);
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (col + j >= p.n) {
            return;
        }
        if (BIAS == 1u) {
            out[o + j] = w[j] + bias[col + j];
        } else {
            out[o + j] = w[j];
        }
    }
}
