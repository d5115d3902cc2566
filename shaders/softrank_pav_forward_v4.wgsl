// softrank_pav_forward_v4: soft ranks by permutahedron projection, one workgroup per
// row, the bitonic sort in registers and subgroup shuffles (for GPUs with a fixed
// subgroup size). Bindings, saved state, and phases 1, 3, 4 and 5 as in
// softrank_pav_forward_v3 (see there); the backward is softrank_pav_backward_v3.
//
// Phase 2 differs. Thread t keeps the C = 4 sorted positions 4t .. 4t+3 in two vec4
// registers (keys, indices) for the whole sort; a compare-exchange stage of stride j
// pairs position p with p ^ j:
//   - j = 1, 2: both inside the thread (register swaps);
//   - 4 <= j < 4 SG: the partner thread t ^ (j / 4) is in the same subgroup (SG lanes,
//     consecutive invocations): subgroupShuffleXor brings its registers, no barrier;
//   - j >= 4 SG: through workgroup memory, laid out [i][t] so that a subgroup's
//     accesses are consecutive words (no bank conflicts), two barriers.
// Both threads of a pair evaluate the same swap test on the same (lower, upper) keys,
// so exactly one keeps each element, ties included. For SH = 4096 and SG = 32: 15
// stages through workgroup memory (v3: 55, each with about twice the accesses), 40 by
// shuffles, 23 in registers. WG = SH / 4 (64 .. 1024), SG: the adapter's subgroup size.
//
// Generated from softrank_pav_forward_v3.wgsl by tools/shaders.py with
// tools/variants/softrank_pav_forward_v4.variant: edit those, then run
// python3 tools/shaders.py.

struct Params {
    b: u32,
    n: u32,
    scale: f32,
    _p0: u32,
}

override WG: u32 = 1024u;
// Sorted positions per thread: fixed at 4 (the vec4 registers of the sort).
const C: u32 = 4u;
// Subgroup size (the host passes the adapter's fixed size).
override SG: u32 = 32u;
override SH: u32 = 4096u;
// Size of MM: SH for kl, 1 for l2.
override MSZ: u32 = 1u;
override REG: u32 = 0u;

// Size of the private arrays.
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

// Whether the pair (lower key ka, upper key kb) swaps in direction asc (v3's rule).
fn swaps(ka: vec4<u32>, kb: vec4<u32>, asc: bool) -> vec4<bool> {
    return (kb < ka) == vec4<bool>(asc);
}

// A cross-thread stage: this thread's registers (k, v) against its partner's (pk, pv);
// `lower` when this thread holds the lower positions of the pairs.
struct Regs {
    k: vec4<u32>,
    v: vec4<u32>,
}

fn exchange(r: Regs, pk: vec4<u32>, pv: vec4<u32>, lower: bool, asc: bool) -> Regs {
    let lw = vec4<bool>(lower);
    let s = swaps(select(pk, r.k, lw), select(r.k, pk, lw), asc);
    return Regs(select(r.k, pk, s), select(r.v, pv, s));
}

// The stages of stride 1 and 2, inside the thread (positions c0 .. c0 + 3, block size kk).
fn in_thread(r: Regs, c0: u32, kk: u32, j: u32) -> Regs {
    if (j == 2u) {
        // pairs (0, 2) and (1, 3), one direction (kk >= 4)
        let s = swaps(vec4(r.k.x, r.k.y, 0u, 0u), vec4(r.k.z, r.k.w, 0u, 0u), (c0 & kk) == 0u);
        let lo = select(vec2(r.k.x, r.k.y), vec2(r.k.z, r.k.w), s.xy);
        let hi = select(vec2(r.k.z, r.k.w), vec2(r.k.x, r.k.y), s.xy);
        let vlo = select(vec2(r.v.x, r.v.y), vec2(r.v.z, r.v.w), s.xy);
        let vhi = select(vec2(r.v.z, r.v.w), vec2(r.v.x, r.v.y), s.xy);
        return Regs(vec4(lo, hi), vec4(vlo, vhi));
    }
    // pairs (0, 1) and (2, 3), each with its own direction
    let asc = vec2((c0 & kk) == 0u, ((c0 + 2u) & kk) == 0u);
    let s = (vec2(r.k.y, r.k.w) < vec2(r.k.x, r.k.z)) == asc;
    let lo = select(vec2(r.k.x, r.k.z), vec2(r.k.y, r.k.w), s);
    let hi = select(vec2(r.k.y, r.k.w), vec2(r.k.x, r.k.z), s);
    let vlo = select(vec2(r.v.x, r.v.z), vec2(r.v.y, r.v.w), s);
    let vhi = select(vec2(r.v.y, r.v.w), vec2(r.v.x, r.v.z), s);
    return Regs(vec4(lo.x, hi.x, lo.y, hi.y), vec4(vlo.x, vhi.x, vlo.y, vhi.y));
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

    // 2. Bitonic sort, in registers (see the header).
    var rg = Regs(vec4(A[sw(c0)], A[sw(c0 + 1u)], A[sw(c0 + 2u)], A[sw(c0 + 3u)]),
                  vec4(B[sw(c0)], B[sw(c0 + 1u)], B[sw(c0 + 2u)], B[sw(c0 + 3u)]));
    workgroupBarrier();
    for (var kk = 2u; kk <= SH; kk = kk << 1u) {
        let asc = (c0 & kk) == 0u;
        for (var j = kk >> 1u; j > 0u; j = j >> 1u) {
            let m = j >> 2u;
            let lower = (t & m) == 0u;
            if (j >= 4u * SG) {
                A[t] = rg.k.x;
                A[WG + t] = rg.k.y;
                A[2u * WG + t] = rg.k.z;
                A[3u * WG + t] = rg.k.w;
                B[t] = rg.v.x;
                B[WG + t] = rg.v.y;
                B[2u * WG + t] = rg.v.z;
                B[3u * WG + t] = rg.v.w;
                workgroupBarrier();
                let q = t ^ m;
                let pk = vec4(A[q], A[WG + q], A[2u * WG + q], A[3u * WG + q]);
                let pv = vec4(B[q], B[WG + q], B[2u * WG + q], B[3u * WG + q]);
                workgroupBarrier();
                rg = exchange(rg, pk, pv, lower, asc);
            } else if (j >= 4u) {
                let pk = subgroupShuffleXor(rg.k, m);
                let pv = subgroupShuffleXor(rg.v, m);
                rg = exchange(rg, pk, pv, lower, asc);
            } else {
                rg = in_thread(rg, c0, kk, j);
            }
        }
    }
    A[sw(c0)] = rg.k.x;
    A[sw(c0 + 1u)] = rg.k.y;
    A[sw(c0 + 2u)] = rg.k.z;
    A[sw(c0 + 3u)] = rg.k.w;
    B[sw(c0)] = rg.v.x;
    B[sw(c0 + 1u)] = rg.v.y;
    B[sw(c0 + 2u)] = rg.v.z;
    B[sw(c0 + 3u)] = rg.v.w;
    workgroupBarrier();

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
