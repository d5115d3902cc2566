// softrank_pav_forward_v3_c4: softrank_pav_forward_v3 with CMAX = 4.
// Generated from softrank_pav_forward_v3.wgsl by tools/shaders.py: edit that, then
// run python3 tools/shaders.py.
// softrank_pav_forward_v3: soft ranks by permutahedron projection, one workgroup per
// row (for real GPUs: the row lives in workgroup memory, every phase is parallel).
//
// bindings (B rows of n values, n <= SH)
//   0 uniform Params: b, n, scale (sign / strength)
//   1 storage read       x: array<f32>, [B, n]
//   2 storage read_write out: array<f32>, [B, n] soft ranks
//   3 storage read_write perm: array<u32>, [B, n] saved for the backward: the index of
//     the k-th largest key, with bit 31 set where a block starts
//
// One workgroup of WG threads per row; thread t owns the C = SH / WG contiguous sorted
// positions [t C, t C + C).
//   1. Coalesced loads (element t + j WG) into workgroup memory as (key, index), the
//      key an order-preserving u32 of x * scale, inverted (ascending keys = decreasing
//      values); positions >= n get a key above all.
//   2. Bitonic sort in workgroup memory: stages whose stride is below C run on the
//      thread's own chunk with no barrier, the others over the workgroup with one
//      barrier each (55 for SH = 4096, C = 4). Word i lives at i ^ ((i >> 4) & 15): a
//      thread walking its chunk (stride C across a warp) and a warp walking
//      consecutive words mostly hit distinct banks, with no padding.
//   3. PAV on each chunk, sequentially per thread (its keys in registers). Blocks live
//      in workgroup memory at their endpoints: ST[a] their statistic (l2 sum(s); kl
//      sum(exp(s - m)) with m = MM[a] their first key), LK[a] low half their end e,
//      LK[e - 1] high half their start a; other halves hold NONE. The block below the
//      open one is found through LK, so no separate stack is needed.
//   4. Stitching: at level l, thread t joins the two halves of segment t of C 2^(l+1)
//      positions, pooling across the junction while blocks violate (usually a few
//      steps); a barrier per level (log2 WG levels).
//   5. Each position finds its block's start with a max-scan over the workgroup, then
//      its rank. Ranks go to workgroup memory by element index, the saved permutation
//      by position, and both leave with coalesced stores.
// WG and C = SH / WG <= 16 are overrides the host picks per row length and adapter
// (widest workgroup first). The host runs the copy whose CMAX, the size of the private
// arrays, is C (sized exactly they stay in registers): this file for C = 16, and for
// C = 1, 2, 4, 8 softrank_pav_forward_v3_c1 .. _c8, which tools/shaders.py makes from it.
// Workgroup memory: 8 SH bytes for l2, 12 SH for kl (MM), plus 4 WG; the host checks
// the adapter's limit.
// Loops are bounded by C, log2 SH and the pooling steps (<= n): fine for llvmpipe's cap.
// REG (override): 0 l2, 1 kl.

struct Params {
    b: u32,
    n: u32,
    scale: f32,
    _p0: u32,
}

override WG: u32 = 256u;
override C: u32 = 16u;
override SH: u32 = 4096u;
// Size of MM: SH for kl, 1 for l2.
override MSZ: u32 = 1u;
override REG: u32 = 0u;

// Size of the private arrays: C (the copies of this file differ only here).
const CMAX: u32 = 4u;
const NONE: u32 = 0xffffu;
const START_BIT: u32 = 0x80000000u;
const PAD_KEY: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> perm: array<u32>;

// Sort: keys and indices. PAV: block statistics and links. Output: ranks by element
// index and saved entries by position.
var<workgroup> A: array<u32, SH>;
var<workgroup> B: array<u32, SH>;
var<workgroup> MM: array<u32, MSZ>;
var<workgroup> SC: array<u32, WG>;

// The word of position i (bank-conflict-free swizzle, a bijection within 16 words).
fn sw(i: u32) -> u32 {
    return i ^ ((i >> 4u) & 15u);
}

fn to_key(f: f32) -> u32 {
    let b = bitcast<u32>(f);
    return ~select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

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

// Statistic of block (s, first key m) pooled with the next block (t, first key mt).
fn pool(s: f32, m: f32, t: f32, mt: f32) -> f32 {
    if (REG == 0u) {
        return s + t;
    }
    return s + t * exp(mt - m);
}

fn single(s: f32) -> f32 {
    return select(1.0, s, REG == 0u);
}

// A block of sorted positions [a, e).
struct Blk {
    a: u32,
    e: u32,
    stat: f32,
    m: f32,
}

fn value_of(b: Blk) -> f32 {
    return block_value(b.a, b.e, b.stat, b.m);
}

fn pooled(l: Blk, r: Blk) -> Blk {
    return Blk(l.a, r.e, pool(l.stat, l.m, r.stat, r.m), l.m);
}

// LK halves: low = end of the block starting here, high = start of the block ending here.
fn set_end_of(a: u32, e: u32) {
    let w = sw(a);
    B[w] = (B[w] & 0xffff0000u) | e;
}

fn set_start_of(last: u32, a: u32) {
    let w = sw(last);
    B[w] = (B[w] & 0xffffu) | (a << 16u);
}

fn end_of(a: u32) -> u32 {
    return B[sw(a)] & 0xffffu;
}

fn start_of(last: u32) -> u32 {
    return B[sw(last)] >> 16u;
}

fn write_blk(b: Blk) {
    A[sw(b.a)] = bitcast<u32>(b.stat);
    if (REG == 1u) {
        MM[b.a] = bitcast<u32>(b.m);
    }
    set_end_of(b.a, b.e);
    set_start_of(b.e - 1u, b.a);
}

// The block that ends at position last (its start from LK).
fn read_blk_ending(last: u32) -> Blk {
    let a = start_of(last);
    var m = 0.0;
    if (REG == 1u) {
        m = bitcast<f32>(MM[a]);
    }
    return Blk(a, last + 1u, bitcast<f32>(A[sw(a)]), m);
}

fn read_blk_starting(a: u32) -> Blk {
    var m = 0.0;
    if (REG == 1u) {
        m = bitcast<f32>(MM[a]);
    }
    return Blk(a, end_of(a), bitcast<f32>(A[sw(a)]), m);
}

// Two adjacent blocks [p, q) and [q, r) become one: q - 1 is no longer an end and q no
// longer a start.
fn unlink(q: u32) {
    set_start_of(q - 1u, NONE);
    set_end_of(q, NONE);
}

// Compare-exchange of sorted positions i < l in workgroup memory, ascending when asc.
// Also used for the strides below C, within the calling thread's own chunk: no other
// thread touches those words between barriers, and private arrays indexed by a loop
// counter end up in slow local memory on GPUs (measured: 60% of the kernel's time).
fn ce_sh(i: u32, l: u32, asc: bool) {
    let wi = sw(i);
    let wl = sw(l);
    let ki = A[wi];
    let kl = A[wl];
    if ((kl < ki) == asc) {
        A[wi] = kl;
        A[wl] = ki;
        let v = B[wi];
        B[wi] = B[wl];
        B[wl] = v;
    }
}

fn load_chunk(k: ptr<function, array<u32, CMAX>>, v: ptr<function, array<u32, CMAX>>, c0: u32) {
    for (var j = 0u; j < C; j = j + 1u) {
        (*k)[j] = A[sw(c0 + j)];
        (*v)[j] = B[sw(c0 + j)];
    }
}


@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    // Uniform per workgroup: every thread reaches every barrier.
    let r = wid.x + wid.y * nwg.x;
    if (r >= p.b) {
        return;
    }
    let n = p.n;
    let row = r * n;
    let c0 = t * C;

    // 1. Load.
    for (var j = 0u; j < C; j = j + 1u) {
        let i = t + j * WG;
        var key = PAD_KEY;
        if (i < n) {
            key = to_key(x[row + i] * p.scale);
        }
        A[sw(i)] = key;
        B[sw(i)] = i;
    }
    workgroupBarrier();

    // 2. Bitonic sort. First every chunk in registers, in alternating directions so that
    // chunk pairs form bitonic sequences.
    for (var kk = 2u; kk <= C; kk = kk << 1u) {
        for (var j = kk >> 1u; j > 0u; j = j >> 1u) {
            for (var i = 0u; i < C; i = i + 1u) {
                let l = i ^ j;
                if (l > i) {
                    ce_sh(c0 + i, c0 + l, ((c0 + i) & kk) == 0u);
                }
            }
        }
    }
    workgroupBarrier();
    // Then merges of 2C .. SH: strides >= C in workgroup memory, the rest in registers.
    for (var k = 2u * C; k <= SH; k = k << 1u) {
        for (var j = k >> 1u; j >= C; j = j >> 1u) {
            // SH / 2 pairs per stage: C / 2 per thread (half the threads when C = 1).
            for (var q = 0u; q < max(C / 2u, 1u); q = q + 1u) {
                let pi = t + q * WG;
                if (pi >= SH / 2u) {
                    break;
                }
                let lo = ((pi & ~(j - 1u)) << 1u) | (pi & (j - 1u));
                let hi = lo | j;
                ce_sh(lo, hi, (lo & k) == 0u);
            }
            workgroupBarrier();
        }
        if (C > 1u) {
            let up = (c0 & k) == 0u;
            for (var j = C >> 1u; j > 0u; j = j >> 1u) {
                for (var i = 0u; i < C; i = i + 1u) {
                    let l = i ^ j;
                    if (l > i) {
                        ce_sh(c0 + i, c0 + l, up);
                    }
                }
            }
            workgroupBarrier();
        }
    }

    // 3. PAV on the chunk. Keys and indices stay in registers from here on.
    var kr: array<u32, CMAX>;
    var ir: array<u32, CMAX>;
    var sr: array<f32, CMAX>;
    load_chunk(&kr, &ir, c0);
    for (var j = 0u; j < C; j = j + 1u) {
        sr[j] = from_key(kr[j]);
    }
    workgroupBarrier();
    for (var j = 0u; j < C; j = j + 1u) {
        B[sw(c0 + j)] = NONE | (NONE << 16u);
    }
    let c1 = min(c0 + C, n);
    if (c0 < n) {
        var cur = Blk(c0, c0 + 1u, single(sr[0]), sr[0]);
        for (var j = 1u; j < c1 - c0; j = j + 1u) {
            let q = c0 + j;
            let nb = Blk(q, q + 1u, single(sr[j]), sr[j]);
            if (value_of(cur) > value_of(nb)) {
                write_blk(cur);
                cur = nb;
            } else {
                cur = pooled(cur, nb);
            }
            // Pool with the blocks below while they violate.
            loop {
                if (cur.a == c0) {
                    break;
                }
                let bel = read_blk_ending(cur.a - 1u);
                if (value_of(bel) > value_of(cur)) {
                    break;
                }
                unlink(cur.a);
                cur = pooled(bel, cur);
            }
        }
        write_blk(cur);
    }
    workgroupBarrier();

    // 4. Stitch halves of segments of 2C, 4C, ... SH positions.
    for (var half = C; half < SH; half = half << 1u) {
        let s0 = (t * 2u) * half;
        let m = s0 + half;
        let s1 = min(s0 + 2u * half, n);
        if (t < WG * C / (2u * half) && m < s1) {
            var lb = read_blk_ending(m - 1u);
            var rb = read_blk_starting(m);
            if (value_of(lb) <= value_of(rb)) {
                unlink(m);
                var cur = pooled(lb, rb);
                loop {
                    if (cur.a > s0) {
                        let l = read_blk_ending(cur.a - 1u);
                        if (value_of(l) <= value_of(cur)) {
                            unlink(cur.a);
                            cur = pooled(l, cur);
                            continue;
                        }
                    }
                    if (cur.e < s1) {
                        let rr = read_blk_starting(cur.e);
                        if (value_of(cur) <= value_of(rr)) {
                            unlink(cur.e);
                            cur = pooled(cur, rr);
                            continue;
                        }
                    }
                    break;
                }
                write_blk(cur);
            }
        }
        workgroupBarrier();
    }

    // 5. Block starts by a max-scan: first within the chunk, then over the chunks.
    var last = 0u;
    var has = false;
    for (var j = 0u; j < C; j = j + 1u) {
        let q = c0 + j;
        if (q < n && end_of(q) != NONE) {
            last = q;
            has = true;
        }
    }
    SC[t] = select(0u, last + 1u, has);
    workgroupBarrier();
    for (var d = 1u; d < WG; d = d << 1u) {
        var v = SC[t];
        if (t >= d) {
            v = max(v, SC[t - d]);
        }
        workgroupBarrier();
        SC[t] = v;
        workgroupBarrier();
    }
    // Start of the block open at the chunk's beginning (the scan of earlier chunks).
    var a = 0u;
    if (t > 0u && SC[t - 1u] > 0u) {
        a = SC[t - 1u] - 1u;
    }
    var ranks: array<f32, CMAX>;
    var ents: array<u32, CMAX>;
    var blk = Blk(0u, 0u, 0.0, 0.0);
    var have = false;
    for (var j = 0u; j < C; j = j + 1u) {
        let q = c0 + j;
        if (q < n) {
            let starts = end_of(q) != NONE;
            if (starts) {
                a = q;
            }
            if (!have || starts) {
                blk = read_blk_starting(a);
                have = true;
            }
            let s = sr[j];
            if (REG == 0u) {
                // s - v = (s - mean(s)) + mean(w): exact for a block of one.
                ranks[j] = (s - blk.stat / f32(blk.e - blk.a)) + w_mean(blk.a, blk.e);
            } else {
                let wsum = f32(blk.e - blk.a) * w_mean(blk.a, blk.e);
                ranks[j] = wsum * exp(s - blk.m) / blk.stat;
            }
            ents[j] = ir[j] | select(0u, START_BIT, starts);
        }
    }
    workgroupBarrier();
    for (var j = 0u; j < C; j = j + 1u) {
        let q = c0 + j;
        if (q < n) {
            A[sw(ir[j])] = bitcast<u32>(ranks[j]);
            B[sw(q)] = ents[j];
        }
    }
    workgroupBarrier();
    for (var j = 0u; j < C; j = j + 1u) {
        let i = t + j * WG;
        if (i < n) {
            out[row + i] = bitcast<f32>(A[sw(i)]);
            perm[row + i] = B[sw(i)];
        }
    }
}
