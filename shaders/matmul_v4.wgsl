// matmul_v4: C = op(A) op(B) (+ bias) with subgroup broadcasts of A.
//
// bindings
//   0 uniform Params: as matmul_v1 (m, n, k, batch, stride_a, stride_b, splits,
//     k_chunk, tiles_n, tiles_m, batch_base)
//   1 storage read       a: array<f32>, [batch_a, m, k] ([batch_a, k, m] when TA)
//   2 storage read       a4: array<vec4<f32>>, the same buffer read 4 floats at a time
//     (used when VA: rows of A hold a multiple of 4 values)
//   3 storage read       b: array<f32>, [batch_b, k, n] ([batch_b, n, k] when TB)
//   4 storage read       b4: array<vec4<f32>>, the same buffer (used when VB)
//   5 storage read       bias: array<f32>, [n] (BIAS 1) or [m] (BIAS 2); unused (BIAS 0)
//   6 storage read_write out: array<f32>, [batch, m, n], or [splits, batch, m, n]
//     partial sums when splits > 1 (bias left to matmul_reduce_v1)
//   7 storage read_write out4: array<vec4<f32>>, the same buffer (used when VC: n is a
//     multiple of 4)
// A workgroup computes a 32-row x (8 * WG)-column tile (WIDE) or 32 x (4 * WG); each
// invocation 32 rows x 8 columns (64 vec4 accumulators) or 32 x 4. Per step of 4 k,
// every lane loads its own B block (4 k x 8 or 4 columns) and a 4x4 block of the
// 32 x 4 A panel: lane j (subgroup lane mod 8) loads rows 4j .. 4j+3; then lanes 0..7
// broadcast their blocks to the whole subgroup with subgroupBroadcast, so each A value
// is loaded once per subgroup instead of once per lane. Any subgroup size >= 8 works
// (lanes 8 and up load copies of lanes 0..7).
// Every lane runs to the end (broadcasts need the whole subgroup): out-of-range rows
// and columns read clamped indices and are not stored.
// Why: on CPU drivers (lavapipe) every per-lane load is a scalar loop over the lanes,
// so loads per FMA decide the speed; broadcasts and vec4 loads cut them. The 32 rows
// are unrolled into separate variables: gallivm turns every access to a local array
// (even at a constant index) into per-lane memory traffic.
// Grid: (x, y) flat over tiles_m * tiles_n (tile column fastest), z = batch entry *
// splits + K chunk. WG (a multiple of the subgroup size, >= 8) is set by the host.
// The K loop runs ceil(k_chunk / 4) times (the host keeps it under llvmpipe's cap).

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

override WG: u32 = 16u;
override TA: bool = false;
override TB: bool = false;
override VA: bool = false;
override VB: bool = false;
override VC: bool = false;
override WIDE: bool = true;
override BIAS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> out4: array<vec4<f32>>;

// acc + x.x b0 + x.y b1 + x.z b2 + x.w b3: one A row (x = its values at k .. k+3)
// times a B block (b_t = 4 columns at k + t).
fn fma4(acc: vec4<f32>, x: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>,
        b3: vec4<f32>) -> vec4<f32> {
    return fma(vec4(x.w), b3, fma(vec4(x.z), b2, fma(vec4(x.y), b1, fma(vec4(x.x), b0, acc))));
}

// a at o, o + s, o + 2s, o + 3s; those at or past `valid` (in steps) read as 0.
fn load_a(o: u32, s: u32, valid: u32) -> vec4<f32> {
    return vec4(a[o], select(0.0, a[o + s], valid > 1u), select(0.0, a[o + 2u * s], valid > 2u),
                select(0.0, a[o + 3u * s], valid > 3u));
}

fn load_b(o: u32, s: u32, valid: u32) -> vec4<f32> {
    return vec4(b[o], select(0.0, b[o + s], valid > 1u), select(0.0, b[o + 2u * s], valid > 2u),
                select(0.0, b[o + 3u * s], valid > 3u));
}

fn transpose4(q0: vec4<f32>, q1: vec4<f32>, q2: vec4<f32>, q3: vec4<f32>) -> mat4x4<f32> {
    return mat4x4(vec4(q0.x, q1.x, q2.x, q3.x), vec4(q0.y, q1.y, q2.y, q3.y),
                  vec4(q0.z, q1.z, q2.z, q3.z), vec4(q0.w, q1.w, q2.w, q3.w));
}

// The 4x4 block of A at rows r .. r+3 and k .. k+3: column i = row r + i. Rows past m
// are clamped (r itself is clamped by the caller so that VA reads stay inside A).
fn a_block(a0: u32, r: u32, kk: u32, valid: u32) -> mat4x4<f32> {
    let last = p.m - 1u;
    if (TA) {
        // a[k, m]: load 4 rows of k, each 4 consecutive m, then transpose.
        let o = a0 + kk * p.m;
        if (VA) {
            let q0 = a4[(o + r) / 4u];
            let q1 = select(vec4(0.0), a4[(o + p.m + r) / 4u], valid > 1u);
            let q2 = select(vec4(0.0), a4[(o + 2u * p.m + r) / 4u], valid > 2u);
            let q3 = select(vec4(0.0), a4[(o + 3u * p.m + r) / 4u], valid > 3u);
            return transpose4(q0, q1, q2, q3);
        }
        return mat4x4(load_a(o + r, p.m, valid), load_a(o + min(r + 1u, last), p.m, valid),
                      load_a(o + min(r + 2u, last), p.m, valid), load_a(o + min(r + 3u, last), p.m, valid));
    }
    if (VA) {
        // rows of k values, a multiple of 4 long: no tail.
        let o = (a0 + kk) / 4u;
        let s = p.k / 4u;
        return mat4x4(a4[o + r * s], a4[o + min(r + 1u, last) * s], a4[o + min(r + 2u, last) * s],
                      a4[o + min(r + 3u, last) * s]);
    }
    let o = a0 + kk;
    return mat4x4(load_a(o + r * p.k, 1u, valid), load_a(o + min(r + 1u, last) * p.k, 1u, valid),
                  load_a(o + min(r + 2u, last) * p.k, 1u, valid),
                  load_a(o + min(r + 3u, last) * p.k, 1u, valid));
}

// The 4x4 block of B at columns c .. c+3 (clamped like rows of A) and k .. k+3:
// column t = the 4 columns at k + t.
fn b_block(b0: u32, c: u32, kk: u32, valid: u32) -> mat4x4<f32> {
    let last = p.n - 1u;
    if (TB) {
        // b[n, k]: load each column along k, then transpose to rows of k.
        if (VB) {
            let o = (b0 + kk) / 4u;
            let s = p.k / 4u;
            return transpose4(b4[o + c * s], b4[o + min(c + 1u, last) * s], b4[o + min(c + 2u, last) * s],
                              b4[o + min(c + 3u, last) * s]);
        }
        let o = b0 + kk;
        return transpose4(load_b(o + c * p.k, 1u, valid), load_b(o + min(c + 1u, last) * p.k, 1u, valid),
                          load_b(o + min(c + 2u, last) * p.k, 1u, valid),
                          load_b(o + min(c + 3u, last) * p.k, 1u, valid));
    }
    let o = b0 + kk * p.n;
    if (VB) {
        return mat4x4(b4[(o + c) / 4u], select(vec4(0.0), b4[(o + p.n + c) / 4u], valid > 1u),
                      select(vec4(0.0), b4[(o + 2u * p.n + c) / 4u], valid > 2u),
                      select(vec4(0.0), b4[(o + 3u * p.n + c) / 4u], valid > 3u));
    }
    let c1 = min(c + 1u, last);
    let c2 = min(c + 2u, last);
    let c3 = min(c + 3u, last);
    return transpose4(load_b(o + c, p.n, valid), load_b(o + c1, p.n, valid), load_b(o + c2, p.n, valid),
                      load_b(o + c3, p.n, valid));
}

// The bias of a row (BIAS 2) for all 4 columns, else 0.
fn row_bias(row: u32) -> vec4<f32> {
    if (BIAS == 2u) {
        return vec4(bias[min(row, p.m - 1u)]);
    }
    return vec4(0.0);
}

// Stores 4 columns from `col` of row `row` at `base` (the batch entry's or the K
// chunk's matrix), clipped to the matrix.
fn store4(base: u32, row: u32, col: u32, v: vec4<f32>) {
    if (row >= p.m || col >= p.n) {
        return;
    }
    let o = base + row * p.n + col;
    if (VC) {
        out4[o / 4u] = v;
        return;
    }
    out[o] = v.x;
    if (col + 1u < p.n) {
        out[o + 1u] = v.y;
    }
    if (col + 2u < p.n) {
        out[o + 2u] = v.z;
    }
    if (col + 3u < p.n) {
        out[o + 3u] = v.w;
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sg_lane: u32) {
    // No early return before the K loop: every lane takes part in the broadcasts.
    let tile = wid.x + wid.y * nwg.x;
    let tm = min(tile / p.tiles_n, p.tiles_m - 1u);
    let tn = tile % p.tiles_n;
    let bat = p.batch_base + wid.z / p.splits;
    let s = wid.z % p.splits;
    let k0 = s * p.k_chunk;
    let k1 = min(p.k, k0 + p.k_chunk);
    let row0 = tm * 32u;
    let cw = select(4u, 8u, WIDE);
    let col = tn * cw * WG + lid * cw;
    let a0 = bat * p.stride_a;
    let b0 = bat * p.stride_b;
    // First row of this lane's A block and first column of each B block, clamped; with
    // vec4 reads whole groups of 4 are clamped (m, n are then multiples of 4).
    let lm = select(p.m - 1u, p.m - 4u, TA && VA);
    var cb0 = min(col, p.n - 1u);
    if (!TB && VB) {
        cb0 = min(col, p.n - 4u);
    }
    var cb1 = min(col + 4u, p.n - 1u);
    if (!TB && VB) {
        cb1 = min(col + 4u, p.n - 4u);
    }
    var c0_0 = vec4(0.0);
    var c0_1 = vec4(0.0);
    var c1_0 = vec4(0.0);
    var c1_1 = vec4(0.0);
    var c2_0 = vec4(0.0);
    var c2_1 = vec4(0.0);
    var c3_0 = vec4(0.0);
    var c3_1 = vec4(0.0);
    var c4_0 = vec4(0.0);
    var c4_1 = vec4(0.0);
    var c5_0 = vec4(0.0);
    var c5_1 = vec4(0.0);
    var c6_0 = vec4(0.0);
    var c6_1 = vec4(0.0);
    var c7_0 = vec4(0.0);
    var c7_1 = vec4(0.0);
    var c8_0 = vec4(0.0);
    var c8_1 = vec4(0.0);
    var c9_0 = vec4(0.0);
    var c9_1 = vec4(0.0);
    var c10_0 = vec4(0.0);
    var c10_1 = vec4(0.0);
    var c11_0 = vec4(0.0);
    var c11_1 = vec4(0.0);
    var c12_0 = vec4(0.0);
    var c12_1 = vec4(0.0);
    var c13_0 = vec4(0.0);
    var c13_1 = vec4(0.0);
    var c14_0 = vec4(0.0);
    var c14_1 = vec4(0.0);
    var c15_0 = vec4(0.0);
    var c15_1 = vec4(0.0);
    var c16_0 = vec4(0.0);
    var c16_1 = vec4(0.0);
    var c17_0 = vec4(0.0);
    var c17_1 = vec4(0.0);
    var c18_0 = vec4(0.0);
    var c18_1 = vec4(0.0);
    var c19_0 = vec4(0.0);
    var c19_1 = vec4(0.0);
    var c20_0 = vec4(0.0);
    var c20_1 = vec4(0.0);
    var c21_0 = vec4(0.0);
    var c21_1 = vec4(0.0);
    var c22_0 = vec4(0.0);
    var c22_1 = vec4(0.0);
    var c23_0 = vec4(0.0);
    var c23_1 = vec4(0.0);
    var c24_0 = vec4(0.0);
    var c24_1 = vec4(0.0);
    var c25_0 = vec4(0.0);
    var c25_1 = vec4(0.0);
    var c26_0 = vec4(0.0);
    var c26_1 = vec4(0.0);
    var c27_0 = vec4(0.0);
    var c27_1 = vec4(0.0);
    var c28_0 = vec4(0.0);
    var c28_1 = vec4(0.0);
    var c29_0 = vec4(0.0);
    var c29_1 = vec4(0.0);
    var c30_0 = vec4(0.0);
    var c30_1 = vec4(0.0);
    var c31_0 = vec4(0.0);
    var c31_1 = vec4(0.0);

    for (var kk = k0; kk < k1; kk = kk + 4u) {
        let valid = min(k1 - kk, 4u);
        let x_0 = a_block(a0, min(row0 + 4u * (sg_lane % 8u), lm), kk, valid);
        let y0 = b_block(b0, cb0, kk, valid);
        // Panel row 4l + i is column i of lane l's block.
        let x0 = subgroupBroadcast(x_0[0], 0u);
        c0_0 = fma4(c0_0, x0, y0[0], y0[1], y0[2], y0[3]);
        let x1 = subgroupBroadcast(x_0[1], 0u);
        c1_0 = fma4(c1_0, x1, y0[0], y0[1], y0[2], y0[3]);
        let x2 = subgroupBroadcast(x_0[2], 0u);
        c2_0 = fma4(c2_0, x2, y0[0], y0[1], y0[2], y0[3]);
        let x3 = subgroupBroadcast(x_0[3], 0u);
        c3_0 = fma4(c3_0, x3, y0[0], y0[1], y0[2], y0[3]);
        let x4 = subgroupBroadcast(x_0[0], 1u);
        c4_0 = fma4(c4_0, x4, y0[0], y0[1], y0[2], y0[3]);
        let x5 = subgroupBroadcast(x_0[1], 1u);
        c5_0 = fma4(c5_0, x5, y0[0], y0[1], y0[2], y0[3]);
        let x6 = subgroupBroadcast(x_0[2], 1u);
        c6_0 = fma4(c6_0, x6, y0[0], y0[1], y0[2], y0[3]);
        let x7 = subgroupBroadcast(x_0[3], 1u);
        c7_0 = fma4(c7_0, x7, y0[0], y0[1], y0[2], y0[3]);
        let x8 = subgroupBroadcast(x_0[0], 2u);
        c8_0 = fma4(c8_0, x8, y0[0], y0[1], y0[2], y0[3]);
        let x9 = subgroupBroadcast(x_0[1], 2u);
        c9_0 = fma4(c9_0, x9, y0[0], y0[1], y0[2], y0[3]);
        let x10 = subgroupBroadcast(x_0[2], 2u);
        c10_0 = fma4(c10_0, x10, y0[0], y0[1], y0[2], y0[3]);
        let x11 = subgroupBroadcast(x_0[3], 2u);
        c11_0 = fma4(c11_0, x11, y0[0], y0[1], y0[2], y0[3]);
        let x12 = subgroupBroadcast(x_0[0], 3u);
        c12_0 = fma4(c12_0, x12, y0[0], y0[1], y0[2], y0[3]);
        let x13 = subgroupBroadcast(x_0[1], 3u);
        c13_0 = fma4(c13_0, x13, y0[0], y0[1], y0[2], y0[3]);
        let x14 = subgroupBroadcast(x_0[2], 3u);
        c14_0 = fma4(c14_0, x14, y0[0], y0[1], y0[2], y0[3]);
        let x15 = subgroupBroadcast(x_0[3], 3u);
        c15_0 = fma4(c15_0, x15, y0[0], y0[1], y0[2], y0[3]);
        let x16 = subgroupBroadcast(x_0[0], 4u);
        c16_0 = fma4(c16_0, x16, y0[0], y0[1], y0[2], y0[3]);
        let x17 = subgroupBroadcast(x_0[1], 4u);
        c17_0 = fma4(c17_0, x17, y0[0], y0[1], y0[2], y0[3]);
        let x18 = subgroupBroadcast(x_0[2], 4u);
        c18_0 = fma4(c18_0, x18, y0[0], y0[1], y0[2], y0[3]);
        let x19 = subgroupBroadcast(x_0[3], 4u);
        c19_0 = fma4(c19_0, x19, y0[0], y0[1], y0[2], y0[3]);
        let x20 = subgroupBroadcast(x_0[0], 5u);
        c20_0 = fma4(c20_0, x20, y0[0], y0[1], y0[2], y0[3]);
        let x21 = subgroupBroadcast(x_0[1], 5u);
        c21_0 = fma4(c21_0, x21, y0[0], y0[1], y0[2], y0[3]);
        let x22 = subgroupBroadcast(x_0[2], 5u);
        c22_0 = fma4(c22_0, x22, y0[0], y0[1], y0[2], y0[3]);
        let x23 = subgroupBroadcast(x_0[3], 5u);
        c23_0 = fma4(c23_0, x23, y0[0], y0[1], y0[2], y0[3]);
        let x24 = subgroupBroadcast(x_0[0], 6u);
        c24_0 = fma4(c24_0, x24, y0[0], y0[1], y0[2], y0[3]);
        let x25 = subgroupBroadcast(x_0[1], 6u);
        c25_0 = fma4(c25_0, x25, y0[0], y0[1], y0[2], y0[3]);
        let x26 = subgroupBroadcast(x_0[2], 6u);
        c26_0 = fma4(c26_0, x26, y0[0], y0[1], y0[2], y0[3]);
        let x27 = subgroupBroadcast(x_0[3], 6u);
        c27_0 = fma4(c27_0, x27, y0[0], y0[1], y0[2], y0[3]);
        let x28 = subgroupBroadcast(x_0[0], 7u);
        c28_0 = fma4(c28_0, x28, y0[0], y0[1], y0[2], y0[3]);
        let x29 = subgroupBroadcast(x_0[1], 7u);
        c29_0 = fma4(c29_0, x29, y0[0], y0[1], y0[2], y0[3]);
        let x30 = subgroupBroadcast(x_0[2], 7u);
        c30_0 = fma4(c30_0, x30, y0[0], y0[1], y0[2], y0[3]);
        let x31 = subgroupBroadcast(x_0[3], 7u);
        c31_0 = fma4(c31_0, x31, y0[0], y0[1], y0[2], y0[3]);
        if (WIDE) {
            let y1 = b_block(b0, cb1, kk, valid);
            c0_1 = fma4(c0_1, x0, y1[0], y1[1], y1[2], y1[3]);
            c1_1 = fma4(c1_1, x1, y1[0], y1[1], y1[2], y1[3]);
            c2_1 = fma4(c2_1, x2, y1[0], y1[1], y1[2], y1[3]);
            c3_1 = fma4(c3_1, x3, y1[0], y1[1], y1[2], y1[3]);
            c4_1 = fma4(c4_1, x4, y1[0], y1[1], y1[2], y1[3]);
            c5_1 = fma4(c5_1, x5, y1[0], y1[1], y1[2], y1[3]);
            c6_1 = fma4(c6_1, x6, y1[0], y1[1], y1[2], y1[3]);
            c7_1 = fma4(c7_1, x7, y1[0], y1[1], y1[2], y1[3]);
            c8_1 = fma4(c8_1, x8, y1[0], y1[1], y1[2], y1[3]);
            c9_1 = fma4(c9_1, x9, y1[0], y1[1], y1[2], y1[3]);
            c10_1 = fma4(c10_1, x10, y1[0], y1[1], y1[2], y1[3]);
            c11_1 = fma4(c11_1, x11, y1[0], y1[1], y1[2], y1[3]);
            c12_1 = fma4(c12_1, x12, y1[0], y1[1], y1[2], y1[3]);
            c13_1 = fma4(c13_1, x13, y1[0], y1[1], y1[2], y1[3]);
            c14_1 = fma4(c14_1, x14, y1[0], y1[1], y1[2], y1[3]);
            c15_1 = fma4(c15_1, x15, y1[0], y1[1], y1[2], y1[3]);
            c16_1 = fma4(c16_1, x16, y1[0], y1[1], y1[2], y1[3]);
            c17_1 = fma4(c17_1, x17, y1[0], y1[1], y1[2], y1[3]);
            c18_1 = fma4(c18_1, x18, y1[0], y1[1], y1[2], y1[3]);
            c19_1 = fma4(c19_1, x19, y1[0], y1[1], y1[2], y1[3]);
            c20_1 = fma4(c20_1, x20, y1[0], y1[1], y1[2], y1[3]);
            c21_1 = fma4(c21_1, x21, y1[0], y1[1], y1[2], y1[3]);
            c22_1 = fma4(c22_1, x22, y1[0], y1[1], y1[2], y1[3]);
            c23_1 = fma4(c23_1, x23, y1[0], y1[1], y1[2], y1[3]);
            c24_1 = fma4(c24_1, x24, y1[0], y1[1], y1[2], y1[3]);
            c25_1 = fma4(c25_1, x25, y1[0], y1[1], y1[2], y1[3]);
            c26_1 = fma4(c26_1, x26, y1[0], y1[1], y1[2], y1[3]);
            c27_1 = fma4(c27_1, x27, y1[0], y1[1], y1[2], y1[3]);
            c28_1 = fma4(c28_1, x28, y1[0], y1[1], y1[2], y1[3]);
            c29_1 = fma4(c29_1, x29, y1[0], y1[1], y1[2], y1[3]);
            c30_1 = fma4(c30_1, x30, y1[0], y1[1], y1[2], y1[3]);
            c31_1 = fma4(c31_1, x31, y1[0], y1[1], y1[2], y1[3]);
        }
    }

    if (tile / p.tiles_n >= p.tiles_m) {
        return;
    }
    // The host sets BIAS = 0 when K is split (matmul_reduce_v1 adds it).
    let base = select(bat, s * p.batch + bat, p.splits > 1u) * p.m * p.n;
    var bias0 = vec4(0.0);
    if (BIAS == 1u) {
        bias0 = vec4(bias[min(col + 0u, p.n - 1u)], bias[min(col + 1u, p.n - 1u)],
                       bias[min(col + 2u, p.n - 1u)], bias[min(col + 3u, p.n - 1u)]);
    }
    var bias1 = vec4(0.0);
    if (BIAS == 1u) {
        bias1 = vec4(bias[min(col + 4u, p.n - 1u)], bias[min(col + 5u, p.n - 1u)],
                       bias[min(col + 6u, p.n - 1u)], bias[min(col + 7u, p.n - 1u)]);
    }
    let r0 = row_bias(row0 + 0u);
    store4(base, row0 + 0u, col, c0_0 + bias0 + r0);
    let r1 = row_bias(row0 + 1u);
    store4(base, row0 + 1u, col, c1_0 + bias0 + r1);
    let r2 = row_bias(row0 + 2u);
    store4(base, row0 + 2u, col, c2_0 + bias0 + r2);
    let r3 = row_bias(row0 + 3u);
    store4(base, row0 + 3u, col, c3_0 + bias0 + r3);
    let r4 = row_bias(row0 + 4u);
    store4(base, row0 + 4u, col, c4_0 + bias0 + r4);
    let r5 = row_bias(row0 + 5u);
    store4(base, row0 + 5u, col, c5_0 + bias0 + r5);
    let r6 = row_bias(row0 + 6u);
    store4(base, row0 + 6u, col, c6_0 + bias0 + r6);
    let r7 = row_bias(row0 + 7u);
    store4(base, row0 + 7u, col, c7_0 + bias0 + r7);
    let r8 = row_bias(row0 + 8u);
    store4(base, row0 + 8u, col, c8_0 + bias0 + r8);
    let r9 = row_bias(row0 + 9u);
    store4(base, row0 + 9u, col, c9_0 + bias0 + r9);
    let r10 = row_bias(row0 + 10u);
    store4(base, row0 + 10u, col, c10_0 + bias0 + r10);
    let r11 = row_bias(row0 + 11u);
    store4(base, row0 + 11u, col, c11_0 + bias0 + r11);
    let r12 = row_bias(row0 + 12u);
    store4(base, row0 + 12u, col, c12_0 + bias0 + r12);
    let r13 = row_bias(row0 + 13u);
    store4(base, row0 + 13u, col, c13_0 + bias0 + r13);
    let r14 = row_bias(row0 + 14u);
    store4(base, row0 + 14u, col, c14_0 + bias0 + r14);
    let r15 = row_bias(row0 + 15u);
    store4(base, row0 + 15u, col, c15_0 + bias0 + r15);
    let r16 = row_bias(row0 + 16u);
    store4(base, row0 + 16u, col, c16_0 + bias0 + r16);
    let r17 = row_bias(row0 + 17u);
    store4(base, row0 + 17u, col, c17_0 + bias0 + r17);
    let r18 = row_bias(row0 + 18u);
    store4(base, row0 + 18u, col, c18_0 + bias0 + r18);
    let r19 = row_bias(row0 + 19u);
    store4(base, row0 + 19u, col, c19_0 + bias0 + r19);
    let r20 = row_bias(row0 + 20u);
    store4(base, row0 + 20u, col, c20_0 + bias0 + r20);
    let r21 = row_bias(row0 + 21u);
    store4(base, row0 + 21u, col, c21_0 + bias0 + r21);
    let r22 = row_bias(row0 + 22u);
    store4(base, row0 + 22u, col, c22_0 + bias0 + r22);
    let r23 = row_bias(row0 + 23u);
    store4(base, row0 + 23u, col, c23_0 + bias0 + r23);
    let r24 = row_bias(row0 + 24u);
    store4(base, row0 + 24u, col, c24_0 + bias0 + r24);
    let r25 = row_bias(row0 + 25u);
    store4(base, row0 + 25u, col, c25_0 + bias0 + r25);
    let r26 = row_bias(row0 + 26u);
    store4(base, row0 + 26u, col, c26_0 + bias0 + r26);
    let r27 = row_bias(row0 + 27u);
    store4(base, row0 + 27u, col, c27_0 + bias0 + r27);
    let r28 = row_bias(row0 + 28u);
    store4(base, row0 + 28u, col, c28_0 + bias0 + r28);
    let r29 = row_bias(row0 + 29u);
    store4(base, row0 + 29u, col, c29_0 + bias0 + r29);
    let r30 = row_bias(row0 + 30u);
    store4(base, row0 + 30u, col, c30_0 + bias0 + r30);
    let r31 = row_bias(row0 + 31u);
    store4(base, row0 + 31u, col, c31_0 + bias0 + r31);
    if (!WIDE) {
        return;
    }
    store4(base, row0 + 0u, col + 4u, c0_1 + bias1 + r0);
    store4(base, row0 + 1u, col + 4u, c1_1 + bias1 + r1);
    store4(base, row0 + 2u, col + 4u, c2_1 + bias1 + r2);
    store4(base, row0 + 3u, col + 4u, c3_1 + bias1 + r3);
    store4(base, row0 + 4u, col + 4u, c4_1 + bias1 + r4);
    store4(base, row0 + 5u, col + 4u, c5_1 + bias1 + r5);
    store4(base, row0 + 6u, col + 4u, c6_1 + bias1 + r6);
    store4(base, row0 + 7u, col + 4u, c7_1 + bias1 + r7);
    store4(base, row0 + 8u, col + 4u, c8_1 + bias1 + r8);
    store4(base, row0 + 9u, col + 4u, c9_1 + bias1 + r9);
    store4(base, row0 + 10u, col + 4u, c10_1 + bias1 + r10);
    store4(base, row0 + 11u, col + 4u, c11_1 + bias1 + r11);
    store4(base, row0 + 12u, col + 4u, c12_1 + bias1 + r12);
    store4(base, row0 + 13u, col + 4u, c13_1 + bias1 + r13);
    store4(base, row0 + 14u, col + 4u, c14_1 + bias1 + r14);
    store4(base, row0 + 15u, col + 4u, c15_1 + bias1 + r15);
    store4(base, row0 + 16u, col + 4u, c16_1 + bias1 + r16);
    store4(base, row0 + 17u, col + 4u, c17_1 + bias1 + r17);
    store4(base, row0 + 18u, col + 4u, c18_1 + bias1 + r18);
    store4(base, row0 + 19u, col + 4u, c19_1 + bias1 + r19);
    store4(base, row0 + 20u, col + 4u, c20_1 + bias1 + r20);
    store4(base, row0 + 21u, col + 4u, c21_1 + bias1 + r21);
    store4(base, row0 + 22u, col + 4u, c22_1 + bias1 + r22);
    store4(base, row0 + 23u, col + 4u, c23_1 + bias1 + r23);
    store4(base, row0 + 24u, col + 4u, c24_1 + bias1 + r24);
    store4(base, row0 + 25u, col + 4u, c25_1 + bias1 + r25);
    store4(base, row0 + 26u, col + 4u, c26_1 + bias1 + r26);
    store4(base, row0 + 27u, col + 4u, c27_1 + bias1 + r27);
    store4(base, row0 + 28u, col + 4u, c28_1 + bias1 + r28);
    store4(base, row0 + 29u, col + 4u, c29_1 + bias1 + r29);
    store4(base, row0 + 30u, col + 4u, c30_1 + bias1 + r30);
    store4(base, row0 + 31u, col + 4u, c31_1 + bias1 + r31);
}
