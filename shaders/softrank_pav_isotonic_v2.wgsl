// softrank_pav_isotonic_v2: the isotonic regression (pool-adjacent-violators) of the
// v2 soft rank on rows sorted by `softrank_pav_sort_v2`, and the un-permute.
//
// bindings (B rows of n values; pair buffers have a row stride of npad, n <= npad)
//   0 uniform Params: b, n, npad, scale (sign / strength)
//   1 storage read       sorted4: array<vec4<u32>>, [B, npad / 2] the sorted (key,
//     index) pairs, two per vec4 (key: see softrank_pav_sort_v2)
//   2 storage read       sorted: the same buffer as vec2 pairs (kl reads block keys)
//   3 storage read_write stack: array<vec2<u32>>, [B, npad] blocks (start, stat bits):
//     stat is sum(s) over the block (l2) or sum(exp(s - m)), m its first key (kl)
//   4 storage read_write out: array<f32>, [B, n] soft ranks
//   5 storage read_write perm4: array<vec4<u32>>, [B, npad / 4] saved for the backward:
//     entry k is the index of the k-th largest key, bit 31 set where a block starts
//
// One invocation per row. PAV: the open block `cur` and a copy of the stack's top
// (`bel`) stay in registers; each loop iteration either pools `cur` into the block
// below it (one stack load), absorbs the next key into `cur` (a violator: no store),
// or pushes `cur` (one stack store). Keys are read in order, two pairs per vec4 load.
// Then blocks are walked in order: each position's rank is written to `out`, and
// the saved permutation four entries per vec4 store.
// Loop iterations: at most 2n (PAV) + n (output), under llvmpipe's 65,535 for n <= 21845.
// REG (override): 0 l2, 1 kl. WG 8: one SIMD vector of lavapipe per workgroup.

struct Params {
    b: u32,
    n: u32,
    npad: u32,
    scale: f32,
}

override WG: u32 = 8u;
override REG: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sorted4: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> sorted: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> stack: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> perm4: array<vec4<u32>>;

const START_BIT: u32 = 0x80000000u;

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

// The statistic of a block [a, e) pooled with the next block (statistic t, first key
// mt); m is the first key of [a, e).
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let r = (wid.x + wid.y * nwg.x) * WG + lid;
    if (r >= p.b) {
        return;
    }
    let n = p.n;
    let rowp = r * p.npad;
    // Two sorted pairs, positions kbuf and kbuf + 1.
    var buf = sorted4[rowp / 2u];
    var kbuf = 0u;

    // The open block [cur_a, k).
    let s0 = from_key(buf.x);
    var cur_a = 0u;
    var cur_m = s0;
    var cur_stat = single(s0);
    var cur_val = block_value(0u, 1u, cur_stat, s0);
    // stack[0 .. t) holds the closed blocks; bel_* copies stack[t - 1].
    var t = 0u;
    var bel_a = 0u;
    var bel_m = 0.0;
    var bel_stat = 0.0;
    var bel_val = 0.0;
    // Every lane takes key k in the same iteration, so key loads are shared vec4s.
    for (var k = 1u; k < n; k = k + 1u) {
        if ((k & 1u) == 0u) {
            buf = sorted4[(rowp + k) / 2u];
        }
        let s = from_key(select(buf.x, buf.z, (k & 1u) != 0u));
        let sv = block_value(k, k + 1u, single(s), s);
        if (cur_val > sv) {
            // Close cur, open a block of the new key.
            stack[rowp + t] = vec2<u32>(cur_a, bitcast<u32>(cur_stat));
        }
        let push = cur_val > sv;
        t = t + select(0u, 1u, push);
        bel_a = select(bel_a, cur_a, push);
        bel_m = select(bel_m, cur_m, push);
        bel_stat = select(bel_stat, cur_stat, push);
        bel_val = select(bel_val, cur_val, push);
        // Otherwise the new key violates with cur: absorb it.
        cur_stat = select(pool(cur_stat, cur_m, single(s), s), single(s), push);
        cur_a = select(cur_a, k, push);
        cur_m = select(cur_m, s, push);
        cur_val = select(block_value(cur_a, k + 1u, cur_stat, cur_m), sv, push);
        // Pool cur with the blocks below it while they violate.
        loop {
            if (!(t > 0u && bel_val <= cur_val)) {
                break;
            }
            cur_stat = pool(bel_stat, bel_m, cur_stat, cur_m);
            cur_a = bel_a;
            cur_m = bel_m;
            cur_val = block_value(cur_a, k + 1u, cur_stat, cur_m);
            t = t - 1u;
            let e = stack[rowp + max(t, 1u) - 1u];
            bel_a = e.x;
            bel_stat = bitcast<f32>(e.y);
            if (REG == 1u) {
                bel_m = from_key(sorted[rowp + bel_a].x);
            }
            bel_val = block_value(bel_a, cur_a, bel_stat, bel_m);
        }
    }
    stack[rowp + t] = vec2<u32>(cur_a, bitcast<u32>(cur_stat));
    let nblocks = t + 1u;

    // Un-permute, block by block, four positions per iteration.
    var ob: Out;
    ob.row_out = r * n;
    ob.rowp = rowp;
    ob.nblocks = nblocks;
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
    v: f32,
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
        (*o).v = block_value(q, e, (*o).stat, s);
        (*o).wsum = f32(e - q) * w_mean(q, e);
    }
    var rank: f32;
    if (REG == 0u) {
        rank = s - (*o).v;
    } else {
        // exp(s - v) = sum(w) exp(s - m) / stat: no large exponents, exact for one key.
        rank = (*o).wsum * exp(s - (*o).m) / (*o).stat;
    }
    out[(*o).row_out + pr.y] = rank;
    return pr.y | select(0u, START_BIT, q == (*o).a);
}
