// matmul_v2: C = op(A) op(B) (+ bias), register-blocked: 16 x 8 outputs per invocation.
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
// Each invocation computes 16 rows x 8 columns (32 vec4 accumulators) from its own
// loads: per step of 4 k, 16 vec4 of A and 8 vec4 of B for 512 multiply-adds.
// No subgroups, no workgroup memory: the portable CPU-driver version (llvmpipe GL).
// WG = 64 invocations as 8 x 8 (row, column) lanes: a 128 x 64 tile per workgroup.
// Grid: (x, y) flat over tiles_m * tiles_n (tile column fastest), z = batch entry *
// splits + K chunk. Out-of-range rows and columns read clamped indices, are not stored.
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

override WG: u32 = 64u;
override TA: bool = false;
override TB: bool = false;
override VA: bool = false;
override VB: bool = false;
override VC: bool = false;
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
        @builtin(local_invocation_index) lid: u32) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile / p.tiles_n >= p.tiles_m) {
        return;
    }
    let tm = tile / p.tiles_n;
    let tn = tile % p.tiles_n;
    let bat = p.batch_base + wid.z / p.splits;
    let s = wid.z % p.splits;
    let k0 = s * p.k_chunk;
    let k1 = min(p.k, k0 + p.k_chunk);
    let row0 = tm * 128u + (lid / 8u) * 16u;
    let col = tn * 64u + (lid % 8u) * 8u;
    if (row0 >= p.m || col >= p.n) {
        return;
    }
    let a0 = bat * p.stride_a;
    let b0 = bat * p.stride_b;
    // First row of each A block and first column of each B block, clamped; with vec4
    // reads whole groups of 4 are clamped (m, n are then multiples of 4).
    let lm = select(p.m - 1u, p.m - 4u, TA && VA);
    let ln = select(p.n - 1u, p.n - 4u, !TB && VB);
    let ar0 = min(row0 + 0u, lm);
    let ar1 = min(row0 + 4u, lm);
    let ar2 = min(row0 + 8u, lm);
    let ar3 = min(row0 + 12u, lm);
    let cb0 = min(col + 0u, ln);
    let cb1 = min(col + 4u, ln);
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

    for (var kk = k0; kk < k1; kk = kk + 4u) {
        let valid = min(k1 - kk, 4u);
        let x0 = a_block(a0, ar0, kk, valid);
        let x1 = a_block(a0, ar1, kk, valid);
        let x2 = a_block(a0, ar2, kk, valid);
        let x3 = a_block(a0, ar3, kk, valid);
        let y0 = b_block(b0, cb0, kk, valid);
        let y1 = b_block(b0, cb1, kk, valid);
        c0_0 = fma4(c0_0, x0[0], y0[0], y0[1], y0[2], y0[3]);
        c0_1 = fma4(c0_1, x0[0], y1[0], y1[1], y1[2], y1[3]);
        c1_0 = fma4(c1_0, x0[1], y0[0], y0[1], y0[2], y0[3]);
        c1_1 = fma4(c1_1, x0[1], y1[0], y1[1], y1[2], y1[3]);
        c2_0 = fma4(c2_0, x0[2], y0[0], y0[1], y0[2], y0[3]);
        c2_1 = fma4(c2_1, x0[2], y1[0], y1[1], y1[2], y1[3]);
        c3_0 = fma4(c3_0, x0[3], y0[0], y0[1], y0[2], y0[3]);
        c3_1 = fma4(c3_1, x0[3], y1[0], y1[1], y1[2], y1[3]);
        c4_0 = fma4(c4_0, x1[0], y0[0], y0[1], y0[2], y0[3]);
        c4_1 = fma4(c4_1, x1[0], y1[0], y1[1], y1[2], y1[3]);
        c5_0 = fma4(c5_0, x1[1], y0[0], y0[1], y0[2], y0[3]);
        c5_1 = fma4(c5_1, x1[1], y1[0], y1[1], y1[2], y1[3]);
        c6_0 = fma4(c6_0, x1[2], y0[0], y0[1], y0[2], y0[3]);
        c6_1 = fma4(c6_1, x1[2], y1[0], y1[1], y1[2], y1[3]);
        c7_0 = fma4(c7_0, x1[3], y0[0], y0[1], y0[2], y0[3]);
        c7_1 = fma4(c7_1, x1[3], y1[0], y1[1], y1[2], y1[3]);
        c8_0 = fma4(c8_0, x2[0], y0[0], y0[1], y0[2], y0[3]);
        c8_1 = fma4(c8_1, x2[0], y1[0], y1[1], y1[2], y1[3]);
        c9_0 = fma4(c9_0, x2[1], y0[0], y0[1], y0[2], y0[3]);
        c9_1 = fma4(c9_1, x2[1], y1[0], y1[1], y1[2], y1[3]);
        c10_0 = fma4(c10_0, x2[2], y0[0], y0[1], y0[2], y0[3]);
        c10_1 = fma4(c10_1, x2[2], y1[0], y1[1], y1[2], y1[3]);
        c11_0 = fma4(c11_0, x2[3], y0[0], y0[1], y0[2], y0[3]);
        c11_1 = fma4(c11_1, x2[3], y1[0], y1[1], y1[2], y1[3]);
        c12_0 = fma4(c12_0, x3[0], y0[0], y0[1], y0[2], y0[3]);
        c12_1 = fma4(c12_1, x3[0], y1[0], y1[1], y1[2], y1[3]);
        c13_0 = fma4(c13_0, x3[1], y0[0], y0[1], y0[2], y0[3]);
        c13_1 = fma4(c13_1, x3[1], y1[0], y1[1], y1[2], y1[3]);
        c14_0 = fma4(c14_0, x3[2], y0[0], y0[1], y0[2], y0[3]);
        c14_1 = fma4(c14_1, x3[2], y1[0], y1[1], y1[2], y1[3]);
        c15_0 = fma4(c15_0, x3[3], y0[0], y0[1], y0[2], y0[3]);
        c15_1 = fma4(c15_1, x3[3], y1[0], y1[1], y1[2], y1[3]);
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
    store4(base, row0 + 0u, col + 0u, c0_0 + bias0 + r0);
    store4(base, row0 + 0u, col + 4u, c0_1 + bias1 + r0);
    let r1 = row_bias(row0 + 1u);
    store4(base, row0 + 1u, col + 0u, c1_0 + bias0 + r1);
    store4(base, row0 + 1u, col + 4u, c1_1 + bias1 + r1);
    let r2 = row_bias(row0 + 2u);
    store4(base, row0 + 2u, col + 0u, c2_0 + bias0 + r2);
    store4(base, row0 + 2u, col + 4u, c2_1 + bias1 + r2);
    let r3 = row_bias(row0 + 3u);
    store4(base, row0 + 3u, col + 0u, c3_0 + bias0 + r3);
    store4(base, row0 + 3u, col + 4u, c3_1 + bias1 + r3);
    let r4 = row_bias(row0 + 4u);
    store4(base, row0 + 4u, col + 0u, c4_0 + bias0 + r4);
    store4(base, row0 + 4u, col + 4u, c4_1 + bias1 + r4);
    let r5 = row_bias(row0 + 5u);
    store4(base, row0 + 5u, col + 0u, c5_0 + bias0 + r5);
    store4(base, row0 + 5u, col + 4u, c5_1 + bias1 + r5);
    let r6 = row_bias(row0 + 6u);
    store4(base, row0 + 6u, col + 0u, c6_0 + bias0 + r6);
    store4(base, row0 + 6u, col + 4u, c6_1 + bias1 + r6);
    let r7 = row_bias(row0 + 7u);
    store4(base, row0 + 7u, col + 0u, c7_0 + bias0 + r7);
    store4(base, row0 + 7u, col + 4u, c7_1 + bias1 + r7);
    let r8 = row_bias(row0 + 8u);
    store4(base, row0 + 8u, col + 0u, c8_0 + bias0 + r8);
    store4(base, row0 + 8u, col + 4u, c8_1 + bias1 + r8);
    let r9 = row_bias(row0 + 9u);
    store4(base, row0 + 9u, col + 0u, c9_0 + bias0 + r9);
    store4(base, row0 + 9u, col + 4u, c9_1 + bias1 + r9);
    let r10 = row_bias(row0 + 10u);
    store4(base, row0 + 10u, col + 0u, c10_0 + bias0 + r10);
    store4(base, row0 + 10u, col + 4u, c10_1 + bias1 + r10);
    let r11 = row_bias(row0 + 11u);
    store4(base, row0 + 11u, col + 0u, c11_0 + bias0 + r11);
    store4(base, row0 + 11u, col + 4u, c11_1 + bias1 + r11);
    let r12 = row_bias(row0 + 12u);
    store4(base, row0 + 12u, col + 0u, c12_0 + bias0 + r12);
    store4(base, row0 + 12u, col + 4u, c12_1 + bias1 + r12);
    let r13 = row_bias(row0 + 13u);
    store4(base, row0 + 13u, col + 0u, c13_0 + bias0 + r13);
    store4(base, row0 + 13u, col + 4u, c13_1 + bias1 + r13);
    let r14 = row_bias(row0 + 14u);
    store4(base, row0 + 14u, col + 0u, c14_0 + bias0 + r14);
    store4(base, row0 + 14u, col + 4u, c14_1 + bias1 + r14);
    let r15 = row_bias(row0 + 15u);
    store4(base, row0 + 15u, col + 0u, c15_0 + bias0 + r15);
    store4(base, row0 + 15u, col + 4u, c15_1 + bias1 + r15);
}
