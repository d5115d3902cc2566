// softrank_pav_forward_v1: soft ranks by permutahedron projection, the naive port of
// `reference/softrank/pav.rs` in four entry points run in sequence (any n: every loop
// is bounded whatever n is, so llvmpipe's 65,535-iteration cap is never reached).
//
// bindings (B rows of n values; pairs hold (key bits, index within the row))
//   0 uniform Params: b, n, width (merge: sorted run length), c0 and c1 (isotonic:
//     the sorted positions this dispatch handles), scale (sign / strength)
//   1 storage read       x: array<f32>, [B, n]
//   2 storage read_write src: array<vec2<u32>>, [B, n] pairs (init writes here)
//   3 storage read_write dst: array<vec2<u32>>, [B, n] pairs (merge writes here)
//   4 storage read_write stack: array<vec2<u32>>, [B, n] blocks (start, stat bits);
//     stat is the sum of the block's sorted keys (l2), or sum(exp(s - m)) with m the
//     block's first, largest key (kl: logsumexp = m + log(stat) keeps every digit)
//   5 storage read_write count: array<u32>, [B] blocks on each row's stack
//   6 storage read_write out: array<f32>, [B, n] soft ranks
//   7 storage read_write perm: array<u32>, [B, n] saved for the backward: the index of
//     the k-th largest key, with bit 31 set where a block starts
//
// Entry points
//   init:     one invocation per element: src = (x * scale, index).
//   merge:    one invocation per element: merges sorted runs of `width` of src into
//             runs of 2 * width of dst (decreasing keys); the element finds its place
//             by binary search in the partner run. The host swaps src and dst per pass.
//   isotonic: one invocation per row: pool-adjacent-violators over sorted positions
//             [c0, c1) of src, the stack of blocks kept in `stack`, `count`; at most
//             3 (c1 - c0) loop iterations, so the host splits long rows over dispatches.
//   output:   one invocation per element: finds its block by binary search over the
//             stack, writes its rank and its saved permutation entry.
// REG (override): 0 l2, 1 kl. WG 64: small enough that B = 1 still spreads a little.

struct Params {
    b: u32,
    n: u32,
    width: u32,
    c0: u32,
    c1: u32,
    scale: f32,
    _p0: u32,
    _p1: u32,
}

override WG: u32 = 64u;
override REG: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> src: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> stack: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read_write> count: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> perm: array<u32>;

const START_BIT: u32 = 0x80000000u;

fn flat(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

fn key(v: vec2<u32>) -> f32 {
    return bitcast<f32>(v.x);
}

// Sum of the rank vector w_k = n - k over sorted positions [a, e).
fn w_sum(a: u32, e: u32) -> f32 {
    let len = f32(e - a);
    return len * (f32(p.n) - 0.5 * f32(a + e - 1u));
}

// The dual value of block [a, e) with statistic `stat`; m is the key at a (kl).
fn block_value(a: u32, e: u32, stat: f32, m: f32) -> f32 {
    if (REG == 0u) {
        // mean(s) - mean(w); mean(w) = n - (a + e - 1) / 2 is exact in f32.
        return stat / f32(e - a) - (f32(p.n) - 0.5 * f32(a + e - 1u));
    }
    // logsumexp(s) - log(sum(w))
    return m + log(stat) - log(w_sum(a, e));
}

// The statistic of two adjacent blocks pooled; m_a >= m_b are their first keys (kl).
fn combine(a: f32, b: f32, m_a: f32, m_b: f32) -> f32 {
    if (REG == 0u) {
        return a + b;
    }
    return a + b * exp(m_b - m_a);
}

// The statistic of a block of one key s.
fn single(s: f32) -> f32 {
    if (REG == 0u) {
        return s;
    }
    return 1.0;
}

@compute @workgroup_size(WG)
fn init(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat(wid, nwg, lid);
    if (i >= p.b * p.n) {
        return;
    }
    src[i] = vec2<u32>(bitcast<u32>(x[i] * p.scale), i % p.n);
}

@compute @workgroup_size(WG)
fn merge(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = flat(wid, nwg, lid);
    if (i >= p.b * p.n) {
        return;
    }
    let row = (i / p.n) * p.n;
    let q = i % p.n;
    let w = p.width;
    let base = q - q % (2u * w);
    let mid = min(base + w, p.n);
    let end = min(base + 2u * w, p.n);
    let v = src[i];
    let kv = key(v);
    var lo: u32;
    var hi: u32;
    var own: u32;
    let in_left = q < mid;
    if (in_left) {
        lo = mid;
        hi = end;
        own = q - base;
    } else {
        lo = base;
        hi = mid;
        own = q - mid;
    }
    let first = lo;
    // Count partner keys that come first: strictly greater for a left element,
    // greater or equal for a right one (so equal keys keep distinct places).
    while (lo < hi) {
        let m = (lo + hi) / 2u;
        let km = key(src[row + m]);
        var before: bool;
        if (in_left) {
            before = km > kv;
        } else {
            before = km >= kv;
        }
        if (before) {
            lo = m + 1u;
        } else {
            hi = m;
        }
    }
    dst[row + base + own + (lo - first)] = v;
}

@compute @workgroup_size(WG)
fn isotonic(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let r = flat(wid, nwg, lid);
    if (r >= p.b) {
        return;
    }
    let row = r * p.n;
    var t = 0u;
    if (p.c0 > 0u) {
        t = count[r];
    }
    for (var k = p.c0; k < p.c1; k = k + 1u) {
        stack[row + t] = vec2<u32>(k, bitcast<u32>(single(key(src[row + k]))));
        t = t + 1u;
        // Pool while the block below does not stay strictly above the top one.
        loop {
            if (t < 2u) {
                break;
            }
            let top = stack[row + t - 1u];
            let below = stack[row + t - 2u];
            let m_top = key(src[row + top.x]);
            let m_below = key(src[row + below.x]);
            let v_top = block_value(top.x, k + 1u, bitcast<f32>(top.y), m_top);
            let v_below = block_value(below.x, top.x, bitcast<f32>(below.y), m_below);
            if (v_below > v_top) {
                break;
            }
            let pooled = combine(bitcast<f32>(below.y), bitcast<f32>(top.y), m_below, m_top);
            stack[row + t - 2u].y = bitcast<u32>(pooled);
            t = t - 1u;
        }
    }
    count[r] = t;
}

@compute @workgroup_size(WG)
fn output(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat(wid, nwg, lid);
    if (i >= p.b * p.n) {
        return;
    }
    let r = i / p.n;
    let row = r * p.n;
    let k = i % p.n;
    let t = count[r];
    // Last block whose start is <= k.
    var lo = 0u;
    var hi = t;
    while (hi - lo > 1u) {
        let m = (lo + hi) / 2u;
        if (stack[row + m].x <= k) {
            lo = m;
        } else {
            hi = m;
        }
    }
    let blk = stack[row + lo];
    var e = p.n;
    if (lo + 1u < t) {
        e = stack[row + lo + 1u].x;
    }
    let pair = src[i];
    let stat = bitcast<f32>(blk.y);
    var rank: f32;
    if (REG == 0u) {
        // s - v = (s - mean(s)) + mean(w): exact for a block of one, whatever the size of s.
        rank = (key(pair) - stat / f32(e - blk.x)) + (f32(p.n) - 0.5 * f32(blk.x + e - 1u));
    } else {
        // exp(s - v) = sum(w) * exp(s - m) / stat: the exponent is a difference of
        // nearby keys (0 for a block of one), so large keys lose no digits.
        rank = w_sum(blk.x, e) * exp(key(pair) - key(src[row + blk.x])) / stat;
    }
    out[row + pair.y] = rank;
    var flag = 0u;
    if (blk.x == k) {
        flag = START_BIT;
    }
    perm[i] = pair.y | flag;
}
