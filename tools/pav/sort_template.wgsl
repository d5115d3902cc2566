// softrank_pav_sort_v2: sorts each row of keys decreasingly, carrying each key's index
// (the sort of the v2 soft rank; written for CPU drivers, and correct anywhere).
//
// bindings (B rows of n values; pairs hold (key, index), key = an order-preserving
// u32 of x * scale, inverted so that ascending keys are decreasing values)
//   0 uniform Params: b, n, npad (row stride of the pair buffers: n rounded up to R),
//     width (merge4: length of the sorted runs it reads), scale (sign / strength)
//   1 storage read       x: array<f32>, [B, n]
//   2 storage read       x4: the same buffer as vec4s (read when n % 4 == 0)
//   3 storage read_write src: array<vec2<u32>>, [B, npad] sorted runs of `width`
//   4 storage read_write dst4: array<vec4<u32>>, [B, npad / 2] (two pairs per vec4)
//
// Entry points
//   runs:   one invocation per (row, run of R = @R@ positions): loads R values, sorts them
//           in registers with Batcher's odd-even merge network (@NCMP@ comparators, the list
//           generated), stores the run into dst4. Positions >= n get a key above every
//           finite value, so they sort last and the isotonic pass ignores them.
//   merge4, merge16: one invocation per (row, K = 4 or 16 runs of `width`): merges
//           them into one run in dst4, two outputs per loop iteration (one vec4 store),
//           the smallest head picked by a tournament of K - 1 comparisons and the
//           consumed run's next pair fetched with one vec2 load (merge code generated).
//           The host swaps the buffers per pass.
// Loop iterations: a merge runs K * width / 2 per invocation (<= npad / 2 < 65,535).
// WG 8: one SIMD vector of lavapipe per workgroup, so that few rows still spread over
// both cores (GPUs get 64: the host picks by adapter).

const R: u32 = @R@u;

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

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> src: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> dst4: array<vec4<u32>>;

// Above the key of every finite value.
const PAD: vec2<u32> = vec2<u32>(0xffffffffu, 0xffffffffu);

// Order-preserving map of f32 to u32, inverted: larger values get smaller keys.
fn to_key(f: f32) -> u32 {
    let b = bitcast<u32>(f);
    return ~select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn make_pair(v: f32, j: u32) -> vec2<u32> {
    return select(PAD, vec2<u32>(to_key(v * p.scale), j), j < p.n);
}

fn load_elem(row_x: u32, j: u32) -> vec2<u32> {
    return make_pair(x[row_x + min(j, p.n - 1u)], j);
}

fn load4(row_x: u32, j: u32) -> vec4<f32> {
    return x4[(row_x + min(j, p.n - 4u)) / 4u];
}

fn ce(a: ptr<function, vec2<u32>>, b: ptr<function, vec2<u32>>) {
    let va = *a;
    let vb = *b;
    let swap = vb.x < va.x;
    *a = select(va, vb, swap);
    *b = select(vb, va, swap);
}

@compute @workgroup_size(WG)
fn runs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    let per_row = p.npad / R;
    if (t >= p.b * per_row) {
        return;
    }
    let n = p.n;
    let row = t / per_row;
    let j0 = (t % per_row) * R;
    let row_x = row * n;
@DECL@
    if (n % 4u == 0u) {
@DECL4@
    } else {
@DECL1@
    }
@NET@
    let o4 = (row * p.npad + j0) / 2u;
@STORES@
}

// The pair at row position pos of src, or PAD at or past `end` (a run's end).
fn next_pair(rowp: u32, pos: u32, end: u32) -> vec2<u32> {
    return select(PAD, src[rowp + min(pos, p.npad - 1u)], pos < min(end, p.npad));
}

@MERGE4@

@MERGE16@

// One invocation per (row, K runs of `width`): merges them into one run in dst4, two
// outputs per loop iteration (one vec4 store).
@compute @workgroup_size(WG)
fn merge4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    let w = p.width;
    let per_row = (p.npad + 4u * w - 1u) / (4u * w);
    if (t >= p.b * per_row) {
        return;
    }
    let rowp = (t / per_row) * p.npad;
    let o0 = (t % per_row) * 4u * w;
    let o1 = min(o0 + 4u * w, p.npad);
    var m: Merge4;
    init4(&m, rowp, o0, w);
    for (var o = o0; o < o1; o = o + 2u) {
        let first = take4(&m, rowp);
        let second = take4(&m, rowp);
        dst4[(rowp + o) / 2u] = vec4<u32>(first, second);
    }
}

@compute @workgroup_size(WG)
fn merge16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    let w = p.width;
    let per_row = (p.npad + 16u * w - 1u) / (16u * w);
    if (t >= p.b * per_row) {
        return;
    }
    let rowp = (t / per_row) * p.npad;
    let o0 = (t % per_row) * 16u * w;
    let o1 = min(o0 + 16u * w, p.npad);
    var m: Merge16;
    init16(&m, rowp, o0, w);
    for (var o = o0; o < o1; o = o + 2u) {
        let first = take16(&m, rowp);
        let second = take16(&m, rowp);
        dst4[(rowp + o) / 2u] = vec4<u32>(first, second);
    }
}
