// softrank_pav_isotonic_v2: the last merge of `softrank_pav_sort_v2`, the isotonic
// regression (pool-adjacent-violators) of the v2 soft rank on the keys as the merge
// produces them, and the un-permute.
//
// bindings (B rows of n values; pair buffers have a row stride of npad, n <= npad)
//   0 uniform Params: b, n, npad, width (the sorted runs of src: at most 4 per row for
//     main4, 16 for main16),
//     scale (sign / strength)
//   1 storage read       src: array<vec2<u32>>, [B, npad] sorted runs of (key, index)
//     pairs (key: see softrank_pav_sort_v2)
//   2 storage read_write sorted4: array<vec4<u32>>, [B, npad / 2] the merged pairs, two
//     per vec4 (written by the merge, read back by the un-permute)
//   3 storage read_write sorted: the same buffer as vec2 pairs (kl reads block keys)
//   4 storage read_write stack: array<vec2<u32>>, [B, npad] blocks (start, stat bits):
//     stat is sum(s) over the block (l2) or sum(exp(s - m)), m its first key (kl)
//   5 storage read_write out: array<f32>, [B, n] soft ranks
//   6 storage read_write perm4: array<vec4<u32>>, [B, npad / 4] saved for the backward:
//     entry k is the index of the k-th largest key, bit 31 set where a block starts
//
// One invocation per row (main4 and main16 differ only in the merge's fan-in; merge code
// generated). Each iteration of the first loop merges two positions (one
// vec4 store) and runs PAV on their keys: the open block `cur` and a copy of the
// stack's top (`bel`) stay in registers; a key either joins `cur` (it violates: no
// memory access) or `cur` is pushed (one store), then `cur` pools with the blocks below
// while they violate (one load each). All lanes take the same positions in the same
// iteration. The second loop walks blocks in order, four positions per iteration:
// ranks to `out`, the saved permutation one vec4 store per four.
// Loop iterations: n / 2 + pools (< n) + n / 4, under llvmpipe's 65,535 for n <= 21845.
// REG (override): 0 l2, 1 kl. WG 8: one SIMD vector of lavapipe per workgroup.

struct Params {
    b: u32,
    n: u32,
    npad: u32,
    width: u32,
    scale: f32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

override WG: u32 = 8u;
override REG: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> sorted4: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> sorted: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> stack: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> perm4: array<vec4<u32>>;

const START_BIT: u32 = 0x80000000u;
// Above the key of every finite value.
const PAD: vec2<u32> = vec2<u32>(0xffffffffu, 0xffffffffu);

fn from_key(k: u32) -> f32 {
    let f = ~k;
    return bitcast<f32>(select(~f, f & 0x7fffffffu, (f & 0x80000000u) != 0u));
}

// Mean of w_k = n - k over sorted positions [a, e).
fn w_mean(a: u32, e: u32) -> f32 {
    return f32(p.n) - 0.5 * f32(a + e - 1u);
}

// Dual value of block [a, e): l2 mean(s) - mean(w); kl logsumexp(s) - log(sum(w)).
fn block_value(a: u32, e: u32, stat: f32, m: f32) -> f32 {
    if (REG == 0u) {
        return stat / f32(e - a) - w_mean(a, e);
    }
    return m + log(stat / (f32(e - a) * w_mean(a, e)));
}

// The statistic of a block (statistic s, first key m) pooled with the next block
// (statistic t, first key mt).
fn pool(s: f32, m: f32, t: f32, mt: f32) -> f32 {
    if (REG == 0u) {
        return s + t;
    }
    return s + t * exp(mt - m);
}

// The statistic of a block of the one key s.
fn single(s: f32) -> f32 {
    return select(1.0, s, REG == 0u);
}

// The pair at row position pos of src, or PAD at or past `end` (a run's end).
fn next_pair(rowp: u32, pos: u32, end: u32) -> vec2<u32> {
    return select(PAD, src[rowp + min(pos, p.npad - 1u)], pos < min(end, p.npad));
}

// The state of a 4-way merge: the next unread position of each run (runs are
// `w` long from `base`, the last one clipped at npad), and each run's head.
struct Merge4 {
    base: u32,
    w: u32,
    p0: u32,
    p1: u32,
    p2: u32,
    p3: u32,
    h0: vec2<u32>,
    h1: vec2<u32>,
    h2: vec2<u32>,
    h3: vec2<u32>,
}

fn init4(m: ptr<function, Merge4>, rowp: u32, base: u32, w: u32) {
    (*m).base = base;
    (*m).w = w;
    (*m).p0 = base + 0u * w;
    (*m).h0 = next_pair(rowp, base + 0u * w, base + 1u * w);
    (*m).p1 = base + 1u * w;
    (*m).h1 = next_pair(rowp, base + 1u * w, base + 2u * w);
    (*m).p2 = base + 2u * w;
    (*m).h2 = next_pair(rowp, base + 2u * w, base + 3u * w);
    (*m).p3 = base + 3u * w;
    (*m).h3 = next_pair(rowp, base + 3u * w, base + 4u * w);
}

// One merge step: returns the smallest head (ties to the lower run) and replaces it
// by its run's next pair (PAD past the run's end): a tournament of 3 comparisons.
fn take4(m: ptr<function, Merge4>, rowp: u32) -> vec2<u32> {
    let v0_0 = (*m).h0;
    let v1_1 = (*m).h1;
    let v2_2 = (*m).h2;
    let v3_3 = (*m).h3;
    let c0_1 = v1_1.x < v0_0.x;
    let v0_1 = select(v0_0, v1_1, c0_1);
    let i0_1 = select(0u, 1u, c0_1);
    let p0_1 = select((*m).p0, (*m).p1, c0_1);
    let c2_3 = v3_3.x < v2_2.x;
    let v2_3 = select(v2_2, v3_3, c2_3);
    let i2_3 = select(2u, 3u, c2_3);
    let p2_3 = select((*m).p2, (*m).p3, c2_3);
    let c0_3 = v2_3.x < v0_1.x;
    let v0_3 = select(v0_1, v2_3, c0_3);
    let i0_3 = select(i0_1, i2_3, c0_3);
    let p0_3 = select(p0_1, p2_3, c0_3);
    let win = i0_3;
    let pos = p0_3 + 1u;
    let nv = next_pair(rowp, pos, (*m).base + (win + 1u) * (*m).w);
    (*m).p0 = select((*m).p0, pos, win == 0u);
    (*m).h0 = select((*m).h0, nv, win == 0u);
    (*m).p1 = select((*m).p1, pos, win == 1u);
    (*m).h1 = select((*m).h1, nv, win == 1u);
    (*m).p2 = select((*m).p2, pos, win == 2u);
    (*m).h2 = select((*m).h2, nv, win == 2u);
    (*m).p3 = select((*m).p3, pos, win == 3u);
    (*m).h3 = select((*m).h3, nv, win == 3u);
    return v0_3;
}

// The state of a 16-way merge: the next unread position of each run (runs are
// `w` long from `base`, the last one clipped at npad), and each run's head.
struct Merge16 {
    base: u32,
    w: u32,
    p0: u32,
    p1: u32,
    p2: u32,
    p3: u32,
    p4: u32,
    p5: u32,
    p6: u32,
    p7: u32,
    p8: u32,
    p9: u32,
    p10: u32,
    p11: u32,
    p12: u32,
    p13: u32,
    p14: u32,
    p15: u32,
    h0: vec2<u32>,
    h1: vec2<u32>,
    h2: vec2<u32>,
    h3: vec2<u32>,
    h4: vec2<u32>,
    h5: vec2<u32>,
    h6: vec2<u32>,
    h7: vec2<u32>,
    h8: vec2<u32>,
    h9: vec2<u32>,
    h10: vec2<u32>,
    h11: vec2<u32>,
    h12: vec2<u32>,
    h13: vec2<u32>,
    h14: vec2<u32>,
    h15: vec2<u32>,
}

fn init16(m: ptr<function, Merge16>, rowp: u32, base: u32, w: u32) {
    (*m).base = base;
    (*m).w = w;
    (*m).p0 = base + 0u * w;
    (*m).h0 = next_pair(rowp, base + 0u * w, base + 1u * w);
    (*m).p1 = base + 1u * w;
    (*m).h1 = next_pair(rowp, base + 1u * w, base + 2u * w);
    (*m).p2 = base + 2u * w;
    (*m).h2 = next_pair(rowp, base + 2u * w, base + 3u * w);
    (*m).p3 = base + 3u * w;
    (*m).h3 = next_pair(rowp, base + 3u * w, base + 4u * w);
    (*m).p4 = base + 4u * w;
    (*m).h4 = next_pair(rowp, base + 4u * w, base + 5u * w);
    (*m).p5 = base + 5u * w;
    (*m).h5 = next_pair(rowp, base + 5u * w, base + 6u * w);
    (*m).p6 = base + 6u * w;
    (*m).h6 = next_pair(rowp, base + 6u * w, base + 7u * w);
    (*m).p7 = base + 7u * w;
    (*m).h7 = next_pair(rowp, base + 7u * w, base + 8u * w);
    (*m).p8 = base + 8u * w;
    (*m).h8 = next_pair(rowp, base + 8u * w, base + 9u * w);
    (*m).p9 = base + 9u * w;
    (*m).h9 = next_pair(rowp, base + 9u * w, base + 10u * w);
    (*m).p10 = base + 10u * w;
    (*m).h10 = next_pair(rowp, base + 10u * w, base + 11u * w);
    (*m).p11 = base + 11u * w;
    (*m).h11 = next_pair(rowp, base + 11u * w, base + 12u * w);
    (*m).p12 = base + 12u * w;
    (*m).h12 = next_pair(rowp, base + 12u * w, base + 13u * w);
    (*m).p13 = base + 13u * w;
    (*m).h13 = next_pair(rowp, base + 13u * w, base + 14u * w);
    (*m).p14 = base + 14u * w;
    (*m).h14 = next_pair(rowp, base + 14u * w, base + 15u * w);
    (*m).p15 = base + 15u * w;
    (*m).h15 = next_pair(rowp, base + 15u * w, base + 16u * w);
}

// One merge step: returns the smallest head (ties to the lower run) and replaces it
// by its run's next pair (PAD past the run's end): a tournament of 15 comparisons.
fn take16(m: ptr<function, Merge16>, rowp: u32) -> vec2<u32> {
    let v0_0 = (*m).h0;
    let v1_1 = (*m).h1;
    let v2_2 = (*m).h2;
    let v3_3 = (*m).h3;
    let v4_4 = (*m).h4;
    let v5_5 = (*m).h5;
    let v6_6 = (*m).h6;
    let v7_7 = (*m).h7;
    let v8_8 = (*m).h8;
    let v9_9 = (*m).h9;
    let v10_10 = (*m).h10;
    let v11_11 = (*m).h11;
    let v12_12 = (*m).h12;
    let v13_13 = (*m).h13;
    let v14_14 = (*m).h14;
    let v15_15 = (*m).h15;
    let c0_1 = v1_1.x < v0_0.x;
    let v0_1 = select(v0_0, v1_1, c0_1);
    let i0_1 = select(0u, 1u, c0_1);
    let p0_1 = select((*m).p0, (*m).p1, c0_1);
    let c2_3 = v3_3.x < v2_2.x;
    let v2_3 = select(v2_2, v3_3, c2_3);
    let i2_3 = select(2u, 3u, c2_3);
    let p2_3 = select((*m).p2, (*m).p3, c2_3);
    let c4_5 = v5_5.x < v4_4.x;
    let v4_5 = select(v4_4, v5_5, c4_5);
    let i4_5 = select(4u, 5u, c4_5);
    let p4_5 = select((*m).p4, (*m).p5, c4_5);
    let c6_7 = v7_7.x < v6_6.x;
    let v6_7 = select(v6_6, v7_7, c6_7);
    let i6_7 = select(6u, 7u, c6_7);
    let p6_7 = select((*m).p6, (*m).p7, c6_7);
    let c8_9 = v9_9.x < v8_8.x;
    let v8_9 = select(v8_8, v9_9, c8_9);
    let i8_9 = select(8u, 9u, c8_9);
    let p8_9 = select((*m).p8, (*m).p9, c8_9);
    let c10_11 = v11_11.x < v10_10.x;
    let v10_11 = select(v10_10, v11_11, c10_11);
    let i10_11 = select(10u, 11u, c10_11);
    let p10_11 = select((*m).p10, (*m).p11, c10_11);
    let c12_13 = v13_13.x < v12_12.x;
    let v12_13 = select(v12_12, v13_13, c12_13);
    let i12_13 = select(12u, 13u, c12_13);
    let p12_13 = select((*m).p12, (*m).p13, c12_13);
    let c14_15 = v15_15.x < v14_14.x;
    let v14_15 = select(v14_14, v15_15, c14_15);
    let i14_15 = select(14u, 15u, c14_15);
    let p14_15 = select((*m).p14, (*m).p15, c14_15);
    let c0_3 = v2_3.x < v0_1.x;
    let v0_3 = select(v0_1, v2_3, c0_3);
    let i0_3 = select(i0_1, i2_3, c0_3);
    let p0_3 = select(p0_1, p2_3, c0_3);
    let c4_7 = v6_7.x < v4_5.x;
    let v4_7 = select(v4_5, v6_7, c4_7);
    let i4_7 = select(i4_5, i6_7, c4_7);
    let p4_7 = select(p4_5, p6_7, c4_7);
    let c8_11 = v10_11.x < v8_9.x;
    let v8_11 = select(v8_9, v10_11, c8_11);
    let i8_11 = select(i8_9, i10_11, c8_11);
    let p8_11 = select(p8_9, p10_11, c8_11);
    let c12_15 = v14_15.x < v12_13.x;
    let v12_15 = select(v12_13, v14_15, c12_15);
    let i12_15 = select(i12_13, i14_15, c12_15);
    let p12_15 = select(p12_13, p14_15, c12_15);
    let c0_7 = v4_7.x < v0_3.x;
    let v0_7 = select(v0_3, v4_7, c0_7);
    let i0_7 = select(i0_3, i4_7, c0_7);
    let p0_7 = select(p0_3, p4_7, c0_7);
    let c8_15 = v12_15.x < v8_11.x;
    let v8_15 = select(v8_11, v12_15, c8_15);
    let i8_15 = select(i8_11, i12_15, c8_15);
    let p8_15 = select(p8_11, p12_15, c8_15);
    let c0_15 = v8_15.x < v0_7.x;
    let v0_15 = select(v0_7, v8_15, c0_15);
    let i0_15 = select(i0_7, i8_15, c0_15);
    let p0_15 = select(p0_7, p8_15, c0_15);
    let win = i0_15;
    let pos = p0_15 + 1u;
    let nv = next_pair(rowp, pos, (*m).base + (win + 1u) * (*m).w);
    (*m).p0 = select((*m).p0, pos, win == 0u);
    (*m).h0 = select((*m).h0, nv, win == 0u);
    (*m).p1 = select((*m).p1, pos, win == 1u);
    (*m).h1 = select((*m).h1, nv, win == 1u);
    (*m).p2 = select((*m).p2, pos, win == 2u);
    (*m).h2 = select((*m).h2, nv, win == 2u);
    (*m).p3 = select((*m).p3, pos, win == 3u);
    (*m).h3 = select((*m).h3, nv, win == 3u);
    (*m).p4 = select((*m).p4, pos, win == 4u);
    (*m).h4 = select((*m).h4, nv, win == 4u);
    (*m).p5 = select((*m).p5, pos, win == 5u);
    (*m).h5 = select((*m).h5, nv, win == 5u);
    (*m).p6 = select((*m).p6, pos, win == 6u);
    (*m).h6 = select((*m).h6, nv, win == 6u);
    (*m).p7 = select((*m).p7, pos, win == 7u);
    (*m).h7 = select((*m).h7, nv, win == 7u);
    (*m).p8 = select((*m).p8, pos, win == 8u);
    (*m).h8 = select((*m).h8, nv, win == 8u);
    (*m).p9 = select((*m).p9, pos, win == 9u);
    (*m).h9 = select((*m).h9, nv, win == 9u);
    (*m).p10 = select((*m).p10, pos, win == 10u);
    (*m).h10 = select((*m).h10, nv, win == 10u);
    (*m).p11 = select((*m).p11, pos, win == 11u);
    (*m).h11 = select((*m).h11, nv, win == 11u);
    (*m).p12 = select((*m).p12, pos, win == 12u);
    (*m).h12 = select((*m).h12, nv, win == 12u);
    (*m).p13 = select((*m).p13, pos, win == 13u);
    (*m).h13 = select((*m).h13, nv, win == 13u);
    (*m).p14 = select((*m).p14, pos, win == 14u);
    (*m).h14 = select((*m).h14, nv, win == 14u);
    (*m).p15 = select((*m).p15, pos, win == 15u);
    (*m).h15 = select((*m).h15, nv, win == 15u);
    return v0_15;
}

// The PAV state of a row: the open block [cur_a, k), the closed blocks in
// stack[0 .. t), and a copy of stack[t - 1] (bel).
struct Pav {
    rowp: u32,
    t: u32,
    cur_a: u32,
    cur_m: f32,
    cur_stat: f32,
    cur_val: f32,
    bel_a: u32,
    bel_m: f32,
    bel_stat: f32,
    bel_val: f32,
}

// Adds sorted position k (key s) to the PAV state.
fn pav_step(st: ptr<function, Pav>, k: u32, s: f32) {
    if (k >= p.n) {
        return;
    }
    let sv = block_value(k, k + 1u, single(s), s);
    if (k == 0u) {
        (*st).cur_a = 0u;
        (*st).cur_m = s;
        (*st).cur_stat = single(s);
        (*st).cur_val = sv;
        return;
    }
    let push = (*st).cur_val > sv;
    if (push) {
        // Close cur, open a block of the new key.
        stack[(*st).rowp + (*st).t] = vec2<u32>((*st).cur_a, bitcast<u32>((*st).cur_stat));
    }
    (*st).t = (*st).t + select(0u, 1u, push);
    (*st).bel_a = select((*st).bel_a, (*st).cur_a, push);
    (*st).bel_m = select((*st).bel_m, (*st).cur_m, push);
    (*st).bel_stat = select((*st).bel_stat, (*st).cur_stat, push);
    (*st).bel_val = select((*st).bel_val, (*st).cur_val, push);
    // Otherwise the new key violates with cur: absorb it.
    let cur_a = select((*st).cur_a, k, push);
    let cur_m = select((*st).cur_m, s, push);
    let cur_stat = select(pool((*st).cur_stat, (*st).cur_m, single(s), s), single(s), push);
    (*st).cur_a = cur_a;
    (*st).cur_m = cur_m;
    (*st).cur_stat = cur_stat;
    (*st).cur_val = select(block_value(cur_a, k + 1u, cur_stat, cur_m), sv, push);
    // Pool cur with the blocks below it while they violate.
    loop {
        if (!((*st).t > 0u && (*st).bel_val <= (*st).cur_val)) {
            break;
        }
        let a = (*st).bel_a;
        let m = (*st).bel_m;
        let stat = pool((*st).bel_stat, m, (*st).cur_stat, (*st).cur_m);
        (*st).cur_a = a;
        (*st).cur_m = m;
        (*st).cur_stat = stat;
        (*st).cur_val = block_value(a, k + 1u, stat, m);
        let t = (*st).t - 1u;
        (*st).t = t;
        let e = stack[(*st).rowp + max(t, 1u) - 1u];
        (*st).bel_a = e.x;
        (*st).bel_stat = bitcast<f32>(e.y);
        if (REG == 1u) {
            (*st).bel_m = from_key(sorted[(*st).rowp + e.x].x);
        }
        (*st).bel_val = block_value(e.x, a, (*st).bel_stat, (*st).bel_m);
    }
}

// The PAV state at the start of a row.
fn pav_init(rowp: u32) -> Pav {
    var st: Pav;
    st.rowp = rowp;
    st.t = 0u;
    return st;
}

// Closes the open block; the un-permute.
fn finish(st: ptr<function, Pav>, r: u32) {
    let n = p.n;
    let rowp = (*st).rowp;
    stack[rowp + (*st).t] = vec2<u32>((*st).cur_a, bitcast<u32>((*st).cur_stat));
    // Four positions per iteration.
    var ob: Out;
    ob.row_out = r * n;
    ob.rowp = rowp;
    ob.nblocks = (*st).t + 1u;
    ob.next = stack[rowp];
    ob.e = 0u;
    for (var q = 0u; q < n; q = q + 4u) {
        let lo = sorted4[(rowp + q) / 2u];
        let hi = sorted4[(rowp + q) / 2u + 1u];
        let e0 = emit(&ob, q, lo.xy);
        let e1 = emit(&ob, q + 1u, lo.zw);
        let e2 = emit(&ob, q + 2u, hi.xy);
        let e3 = emit(&ob, q + 3u, hi.zw);
        perm4[(rowp + q) / 4u] = vec4<u32>(e0, e1, e2, e3);
    }
}

// Rows of at most 4 runs.
@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let r = (wid.x + wid.y * nwg.x) * WG + lid;
    if (r >= p.b) {
        return;
    }
    let rowp = r * p.npad;
    var mg: Merge4;
    init4(&mg, rowp, 0u, p.width);
    var st = pav_init(rowp);
    for (var k = 0u; k < p.n; k = k + 2u) {
        let first = take4(&mg, rowp);
        let second = take4(&mg, rowp);
        sorted4[(rowp + k) / 2u] = vec4<u32>(first, second);
        pav_step(&st, k, from_key(first.x));
        pav_step(&st, k + 1u, from_key(second.x));
    }
    finish(&st, r);
}

// Rows of at most 16 runs.
@compute @workgroup_size(WG)
fn main16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let r = (wid.x + wid.y * nwg.x) * WG + lid;
    if (r >= p.b) {
        return;
    }
    let rowp = r * p.npad;
    var mg: Merge16;
    init16(&mg, rowp, 0u, p.width);
    var st = pav_init(rowp);
    for (var k = 0u; k < p.n; k = k + 2u) {
        let first = take16(&mg, rowp);
        let second = take16(&mg, rowp);
        sorted4[(rowp + k) / 2u] = vec4<u32>(first, second);
        pav_step(&st, k, from_key(first.x));
        pav_step(&st, k + 1u, from_key(second.x));
    }
    finish(&st, r);
}

// The walk over blocks of the un-permute: the current block [a, e) and its value.
struct Out {
    row_out: u32,
    rowp: u32,
    nblocks: u32,
    // Stack entry of the next block.
    next: vec2<u32>,
    j: u32,
    a: u32,
    e: u32,
    stat: f32,
    m: f32,
    // l2: mean(s) and mean(w) over the block.
    v: f32,
    wm: f32,
    wsum: f32,
}

// Writes the rank of sorted position q (pair pr) and returns its saved entry.
fn emit(o: ptr<function, Out>, q: u32, pr: vec2<u32>) -> u32 {
    let n = p.n;
    if (q >= n) {
        return 0u;
    }
    let s = from_key(pr.x);
    if (q == (*o).e) {
        // Block j starts here.
        (*o).a = q;
        (*o).stat = bitcast<f32>((*o).next.y);
        (*o).j = (*o).j + 1u;
        var e = n;
        if ((*o).j < (*o).nblocks) {
            (*o).next = stack[(*o).rowp + (*o).j];
            e = (*o).next.x;
        }
        (*o).e = e;
        (*o).m = s;
        // l2: s - v = (s - mean(s)) + mean(w), exact for a block of one.
        (*o).v = (*o).stat / f32(e - q);
        (*o).wm = w_mean(q, e);
        (*o).wsum = f32(e - q) * w_mean(q, e);
    }
    var rank: f32;
    if (REG == 0u) {
        rank = (s - (*o).v) + (*o).wm;
    } else {
        // exp(s - v) = sum(w) exp(s - m) / stat: no large exponents, exact for one key.
        rank = (*o).wsum * exp(s - (*o).m) / (*o).stat;
    }
    out[(*o).row_out + pr.y] = rank;
    return pr.y | select(0u, START_BIT, q == (*o).a);
}
