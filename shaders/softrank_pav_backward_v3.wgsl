// softrank_pav_backward_v3: the vector-Jacobian product of the PAV soft rank, one
// workgroup per row (for real GPUs: every phase parallel, global accesses coalesced).
//
// bindings (B rows of n values, n <= SH)
//   0 uniform Params: b, n, scale (sign / strength)
//   1 storage read       g: array<f32>, [B, n] cotangent of the ranks
//   2 storage read       ranks: array<f32>, [B, n] the forward output (read for kl)
//   3 storage read       perm: array<u32>, [B, n] saved by the forward (index of the
//     k-th largest key; bit 31 marks a block start)
//   4 storage read_write dx: array<f32>, [B, n]
//
// One workgroup of WG threads per row; thread t owns sorted positions [t C, t C + C).
//   1. Coalesced loads of g (kl: and the ranks) by element and of perm by position
//      into workgroup memory.
//   2. Each position gathers u = g (kl: g r) of its element from workgroup memory.
//   3. Two segmented scans over the sorted positions, by thread chunk then across the
//      workgroup (one Hillis-Steele scan of the chunk aggregates, both directions at
//      once): from the left, P = sum and count since the block's start; from the
//      right, S = sum and count up to the block's end. A position's block holds
//      P + S - u in total over P + S - 1 positions, from k - P + 1 to k + S.
//   4. dx = scale * (u - coef) (l2: coef = mean of g) or scale * (u - r coef) (kl:
//      coef = sum(g r) / sum(w)), written to workgroup memory by element and stored
//      coalesced.
// WG and C = SH / WG <= 16 are overrides the host picks per row length and adapter
// (widest workgroup that fits first). The host runs the copy whose CMAX, the size of the
// private arrays, is C: this file for C = 16, and for C = 1, 2, 4, 8
// softrank_pav_backward_v3_c1 .. _c8, which tools/shaders.py makes from it.
// Workgroup memory: 8 SH bytes (12 SH for kl) plus 24 WG; the host checks the
// adapter's limit. REG: 0 l2, 1 kl.

struct Params {
    b: u32,
    n: u32,
    scale: f32,
    _p0: u32,
}

override WG: u32 = 256u;
override C: u32 = 16u;
override SH: u32 = 4096u;
// Size of RS: SH for kl, 1 for l2.
override MSZ: u32 = 1u;
override REG: u32 = 0u;

// Size of the private arrays: C (the copies of this file differ only here).
const CMAX: u32 = 16u;
const START_BIT: u32 = 0x80000000u;
const INDEX_MASK: u32 = 0x7fffffffu;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> ranks: array<f32>;
@group(0) @binding(3) var<storage, read> perm: array<u32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

// g by element (then dx by element), perm by position, ranks by element (kl).
var<workgroup> GS: array<f32, SH>;
var<workgroup> PS: array<u32, SH>;
var<workgroup> RS: array<f32, MSZ>;
// Chunk aggregates of the two scans: has a block start / end, sum, count.
var<workgroup> FH: array<u32, WG>;
var<workgroup> FS: array<f32, WG>;
var<workgroup> FC: array<u32, WG>;
var<workgroup> BH: array<u32, WG>;
var<workgroup> BS: array<f32, WG>;
var<workgroup> BC: array<u32, WG>;

fn sw(i: u32) -> u32 {
    return i ^ ((i >> 4u) & 15u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let r = wid.x + wid.y * nwg.x;
    if (r >= p.b) {
        return;
    }
    let n = p.n;
    let row = r * n;
    let c0 = t * C;

    // 1. Loads.
    for (var j = 0u; j < C; j = j + 1u) {
        let i = t + j * WG;
        if (i < n) {
            GS[sw(i)] = g[row + i];
            PS[sw(i)] = perm[row + i];
            if (REG == 1u) {
                RS[sw(i)] = ranks[row + i];
            }
        }
    }
    workgroupBarrier();

    // 2. The chunk's values, flags, and its two scan aggregates.
    var u: array<f32, CMAX>;
    var rv: array<f32, CMAX>;
    var id: array<u32, CMAX>;
    var st: array<bool, CMAX>;
    var en: array<bool, CMAX>;
    var fh = false;
    var fs = 0.0;
    var fc = 0u;
    for (var j = 0u; j < C; j = j + 1u) {
        let q = c0 + j;
        u[j] = 0.0;
        rv[j] = 1.0;
        st[j] = false;
        en[j] = false;
        if (q < n) {
            let e = PS[sw(q)];
            id[j] = e & INDEX_MASK;
            st[j] = (e & START_BIT) != 0u;
            en[j] = q + 1u == n;
            if (q + 1u < n) {
                en[j] = (PS[sw(q + 1u)] & START_BIT) != 0u;
            }
            var uj = GS[sw(id[j])];
            if (REG == 1u) {
                rv[j] = RS[sw(id[j])];
                uj = uj * rv[j];
            }
            u[j] = uj;
        }
        if (st[j]) {
            fh = true;
            fs = 0.0;
            fc = 0u;
        }
        fs = fs + u[j];
        fc = fc + select(0u, 1u, q < n);
    }
    var bh = false;
    var bs = 0.0;
    var bc = 0u;
    for (var jj = 0u; jj < C; jj = jj + 1u) {
        let j = C - 1u - jj;
        let q = c0 + j;
        if (en[j]) {
            bh = true;
            bs = 0.0;
            bc = 0u;
        }
        bs = bs + u[j];
        bc = bc + select(0u, 1u, q < n);
    }
    FH[t] = select(0u, 1u, fh);
    FS[t] = fs;
    FC[t] = fc;
    BH[t] = select(0u, 1u, bh);
    BS[t] = bs;
    BC[t] = bc;
    workgroupBarrier();

    // 3. Inclusive scans of the aggregates: left to right (F) and right to left (B).
    for (var d = 1u; d < WG; d = d << 1u) {
        var f = vec3<u32>(FH[t], bitcast<u32>(FS[t]), FC[t]);
        if (t >= d && f.x == 0u) {
            f = vec3<u32>(FH[t - d], bitcast<u32>(FS[t - d] + bitcast<f32>(f.y)), FC[t - d] + f.z);
        }
        var b = vec3<u32>(BH[t], bitcast<u32>(BS[t]), BC[t]);
        if (t + d < WG && b.x == 0u) {
            b = vec3<u32>(BH[t + d], bitcast<u32>(BS[t + d] + bitcast<f32>(b.y)), BC[t + d] + b.z);
        }
        workgroupBarrier();
        FH[t] = f.x;
        FS[t] = bitcast<f32>(f.y);
        FC[t] = f.z;
        BH[t] = b.x;
        BS[t] = bitcast<f32>(b.y);
        BC[t] = b.z;
        workgroupBarrier();
    }
    // Carries into the chunk: from the chunks before it and after it.
    var ps = 0.0;
    var pc = 0u;
    if (t > 0u) {
        ps = FS[t - 1u];
        pc = FC[t - 1u];
    }
    var ss = 0.0;
    var sc = 0u;
    if (t + 1u < WG) {
        ss = BS[t + 1u];
        sc = BC[t + 1u];
    }
    var bsum: array<f32, CMAX>;
    var bcnt: array<u32, CMAX>;
    for (var jj = 0u; jj < C; jj = jj + 1u) {
        let j = C - 1u - jj;
        if (en[j]) {
            ss = 0.0;
            sc = 0u;
        }
        ss = ss + u[j];
        sc = sc + 1u;
        bsum[j] = ss;
        bcnt[j] = sc;
    }
    var coef: array<f32, CMAX>;
    for (var j = 0u; j < C; j = j + 1u) {
        let q = c0 + j;
        if (st[j]) {
            ps = 0.0;
            pc = 0u;
        }
        ps = ps + u[j];
        pc = pc + 1u;
        if (q < n) {
            let total = ps + bsum[j] - u[j];
            let a = q + 1u - pc;
            let e = q + bcnt[j];
            let len = f32(e - a);
            if (REG == 0u) {
                coef[j] = total / len;
            } else {
                coef[j] = total / (len * (f32(n) - 0.5 * f32(a + e - 1u)));
            }
        }
    }
    workgroupBarrier();

    // 4. dx by element, then coalesced stores.
    for (var j = 0u; j < C; j = j + 1u) {
        let q = c0 + j;
        if (q < n) {
            GS[sw(id[j])] = (u[j] - rv[j] * coef[j]) * p.scale;
        }
    }
    workgroupBarrier();
    for (var j = 0u; j < C; j = j + 1u) {
        let i = t + j * WG;
        if (i < n) {
            dx[row + i] = GS[sw(i)];
        }
    }
}
