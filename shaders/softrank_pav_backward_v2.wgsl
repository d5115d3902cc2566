// softrank_pav_backward_v2: the vector-Jacobian product of the v2 soft rank, one row
// per invocation (for CPU drivers).
//
// bindings (B rows of n values; saved and scratch buffers have a row stride of npad)
//   0 uniform Params: b, n, npad, scale (sign / strength)
//   1 storage read       g: array<f32>, [B, n] cotangent of the ranks
//   2 storage read       ranks: array<f32>, [B, n] the forward output (read for kl)
//   3 storage read       perm4: array<vec4<u32>>, [B, npad / 4] saved by the forward:
//     the index of the k-th largest key, bit 31 set where a block starts
//   4 storage read_write coef: array<f32>, [B, npad] per block (in order): mean(g)
//     (l2) or sum(g r) / sum(w) (kl)
//   5 storage read_write us4: array<vec4<f32>>, [B, npad / 4] g (l2) or g r (kl) in
//     sorted order, so the second pass reads it in order instead of gathering again
//   6 storage read_write rs4: array<vec4<f32>>, [B, npad / 4] r in sorted order (kl)
//   7 storage read_write dx: array<f32>, [B, n]
//
// One invocation per row, two passes over the sorted positions, four per loop
// iteration (one vec4 of the saved permutation): the first gathers g and sums each
// block, the second writes dx[perm[k]] = scale * (u - coef) (l2) or
// scale * (u - r coef) (kl). Loop iterations: n / 2 in all.
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
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> ranks: array<f32>;
@group(0) @binding(3) var<storage, read> perm4: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> coef: array<f32>;
@group(0) @binding(5) var<storage, read_write> us4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> rs4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

const START_BIT: u32 = 0x80000000u;
const INDEX_MASK: u32 = 0x7fffffffu;

// What closes block [a, e) with sum s: the mean for l2, s / sum(w) for kl.
fn close_block(a: u32, e: u32, s: f32) -> f32 {
    let len = f32(e - a);
    if (REG == 0u) {
        return s / len;
    }
    return s / (len * (f32(p.n) - 0.5 * f32(a + e - 1u)));
}

// Running state of pass 1 (block sums) and pass 2 (block coefficients).
struct Walk {
    row: u32,
    rowp: u32,
    nb: u32,
    start: u32,
    sum: f32,
}

// Pass 1 at sorted position q (saved entry e): closes the previous block when one
// starts here, adds u to the open one; returns u (g, or g r for kl) and r.
fn gather(w: ptr<function, Walk>, q: u32, e: u32) -> vec2<f32> {
    if (q >= p.n) {
        return vec2<f32>(0.0);
    }
    let i = (*w).row + (e & INDEX_MASK);
    var u = g[i];
    var ri = 1.0;
    if (REG == 1u) {
        ri = ranks[i];
        u = u * ri;
    }
    if ((e & START_BIT) != 0u && q > 0u) {
        coef[(*w).rowp + (*w).nb] = close_block((*w).start, q, (*w).sum);
        (*w).nb = (*w).nb + 1u;
        (*w).start = q;
        (*w).sum = 0.0;
    }
    (*w).sum = (*w).sum + u;
    return vec2<f32>(u, ri);
}

// Pass 2 at sorted position q: dx of its element.
fn scatter(w: ptr<function, Walk>, q: u32, e: u32, u: f32, ri: f32) {
    if (q >= p.n) {
        return;
    }
    if ((e & START_BIT) != 0u) {
        (*w).sum = coef[(*w).rowp + (*w).nb];
        (*w).nb = (*w).nb + 1u;
    }
    dx[(*w).row + (e & INDEX_MASK)] = (u - ri * (*w).sum) * p.scale;
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
    let n4 = (n + 3u) / 4u;
    var w: Walk;
    w.row = r * n;
    w.rowp = rowp;

    // Pass 1: block sums.
    for (var q4 = 0u; q4 < n4; q4 = q4 + 1u) {
        let q = q4 * 4u;
        let pe = perm4[rowp / 4u + q4];
        let a = gather(&w, q, pe.x);
        let b = gather(&w, q + 1u, pe.y);
        let c = gather(&w, q + 2u, pe.z);
        let d = gather(&w, q + 3u, pe.w);
        us4[rowp / 4u + q4] = vec4<f32>(a.x, b.x, c.x, d.x);
        if (REG == 1u) {
            rs4[rowp / 4u + q4] = vec4<f32>(a.y, b.y, c.y, d.y);
        }
    }
    coef[rowp + w.nb] = close_block(w.start, n, w.sum);

    // Pass 2: dx.
    w.nb = 0u;
    for (var q4 = 0u; q4 < n4; q4 = q4 + 1u) {
        let q = q4 * 4u;
        let pe = perm4[rowp / 4u + q4];
        let uv = us4[rowp / 4u + q4];
        var rv = vec4<f32>(1.0);
        if (REG == 1u) {
            rv = rs4[rowp / 4u + q4];
        }
        scatter(&w, q, pe.x, uv.x, rv.x);
        scatter(&w, q + 1u, pe.y, uv.y, rv.y);
        scatter(&w, q + 2u, pe.z, uv.z, rv.z);
        scatter(&w, q + 3u, pe.w, uv.w, rv.w);
    }
}
