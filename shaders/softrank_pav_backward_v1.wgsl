// softrank_pav_backward_v1: the vector-Jacobian product of the PAV soft rank, the
// naive port of `soft_rank_pav_backward_ref` in two entry points (any n: loops bounded).
//
// bindings (B rows of n values)
//   0 uniform Params: b, n, c0 and c1 (block_sums: the sorted positions this dispatch
//     handles), scale (sign / strength)
//   1 storage read       g: array<f32>, [B, n] cotangent of the ranks
//   2 storage read       perm: array<u32>, [B, n] saved by the forward (index of the
//     k-th largest key; bit 31 marks a block start)
//   3 storage read       ranks: array<f32>, [B, n] the forward output (read for kl)
//   4 storage read_write coef: array<f32>, [B, n] at a block's start position: mean(g)
//     over the block (l2) or sum(g * r) / sum(w) over it (kl)
//   5 storage read_write bstart: array<u32>, [B, n] the start position of each
//     position's block
//   6 storage read_write state: array<vec2<u32>>, [B] (open block start, its sum bits)
//     carried from one block_sums dispatch to the next
//   7 storage read_write dx: array<f32>, [B, n]
//
// Entry points
//   block_sums: one invocation per row, walks sorted positions [c0, c1) (one loop
//               iteration each) and closes every block it finishes.
//   apply:      one invocation per sorted position k: dx[perm[k]] =
//               scale * (g - coef) (l2) or scale * (g r - r coef) (kl).
// REG (override): 0 l2, 1 kl. WG 64 as in the forward.

struct Params {
    b: u32,
    n: u32,
    c0: u32,
    c1: u32,
    scale: f32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

override WG: u32 = 64u;
override REG: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> perm: array<u32>;
@group(0) @binding(3) var<storage, read> ranks: array<f32>;
@group(0) @binding(4) var<storage, read_write> coef: array<f32>;
@group(0) @binding(5) var<storage, read_write> bstart: array<u32>;
@group(0) @binding(6) var<storage, read_write> state: array<vec2<u32>>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

const START_BIT: u32 = 0x80000000u;
const INDEX_MASK: u32 = 0x7fffffffu;

fn flat(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

// What closes block [a, e) with sum `s`: mean for l2, s / sum(w) for kl.
fn close_block(a: u32, e: u32, s: f32) -> f32 {
    let len = f32(e - a);
    if (REG == 0u) {
        return s / len;
    }
    return s / (len * (f32(p.n) - 0.5 * f32(a + e - 1u)));
}

@compute @workgroup_size(WG)
fn block_sums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let r = flat(wid, nwg, lid);
    if (r >= p.b) {
        return;
    }
    let row = r * p.n;
    var start = 0u;
    var sum = 0.0;
    if (p.c0 > 0u) {
        let st = state[r];
        start = st.x;
        sum = bitcast<f32>(st.y);
    }
    for (var k = p.c0; k < p.c1; k = k + 1u) {
        let e = perm[row + k];
        if ((e & START_BIT) != 0u && k > 0u) {
            coef[row + start] = close_block(start, k, sum);
            start = k;
            sum = 0.0;
        }
        let i = row + (e & INDEX_MASK);
        var u = g[i];
        if (REG == 1u) {
            u = u * ranks[i];
        }
        sum = sum + u;
        bstart[row + k] = start;
    }
    if (p.c1 == p.n) {
        coef[row + start] = close_block(start, p.n, sum);
    } else {
        state[r] = vec2<u32>(start, bitcast<u32>(sum));
    }
}

@compute @workgroup_size(WG)
fn apply(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let q = flat(wid, nwg, lid);
    if (q >= p.b * p.n) {
        return;
    }
    let row = (q / p.n) * p.n;
    let i = row + (perm[q] & INDEX_MASK);
    let c = coef[row + bstart[q]];
    var d: f32;
    if (REG == 0u) {
        d = g[i] - c;
    } else {
        let ri = ranks[i];
        d = g[i] * ri - ri * c;
    }
    dx[i] = d * p.scale;
}
