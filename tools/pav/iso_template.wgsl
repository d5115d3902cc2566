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

@MERGE4@

@MERGE16@

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
