// sort_forward_v1: hard sort along rows with a bitonic network (any n), stable.
//
// bindings
//   0 uniform Params: rows, n, pairs (comparator slots per layer, N/2 for N the next
//     power of two), l0 and l1 (layer range of this dispatch), kout (outputs per row),
//     desc (1: descending)
//   1 storage read       x: array<f32>, [rows, n]
//   2 storage read_write keys: array<vec2<u32>>, [rows, n] (sort key, input index)
//   3 storage read_write out: array<f32>, [rows, kout] (gather) or [rows, n] (ranks)
// Entry `layers`: one workgroup per row runs network layers [l0, l1) on (key, index)
// pairs, storageBarrier between layers; l0 = 0 first builds the keys: the f32 bits
// mapped to an unsigned total order (IEEE totalOrder: -0 before +0, NaNs at the ends),
// inverted for descending. Pairs compare by key, then index, so equal values keep their
// input order in both directions (stable). The network is the all-ascending bitonic
// network of N = next power of two with every comparator whose hi wire is >= n dropped
// (exact: +inf padding would never move). Per invocation about
// (l1 - l0) * (1 + pairs / WG) loop iterations: the host splits the layers under the cap.
// Entry `gather`: one invocation per (row, j < kout): MODE 0 writes the value, MODE 1
// the input index (as f32, exact below 2^24). MODE 2: one invocation per (row, j < n),
// writes the hard rank j + 1 at the input index.
// WG (override, 32..256): lanes share one row's comparators.

struct Params {
    rows: u32,
    n: u32,
    pairs: u32,
    l0: u32,
    l1: u32,
    kout: u32,
    desc: u32,
    _p0: u32,
}

override WG: u32 = 256u;
override MODE: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> keys: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn stage_of(l: u32) -> vec2<u32> {
    var s = 1u;
    var t = l;
    while (t >= s) {
        t = t - s;
        s = s + 1u;
    }
    return vec2<u32>(s, t);
}

fn next_stage(st: vec2<u32>) -> vec2<u32> {
    if (st.y + 1u == st.x) {
        return vec2<u32>(st.x + 1u, 0u);
    }
    return vec2<u32>(st.x, st.y + 1u);
}

fn comparator(st: vec2<u32>, c: u32) -> vec2<u32> {
    if (st.y == 0u) {
        let half = 1u << (st.x - 1u);
        let base = (c / half) * 2u * half;
        let o = c % half;
        return vec2<u32>(base + o, base + 2u * half - 1u - o);
    }
    let j = 1u << (st.x - 1u - st.y);
    let lo = (c / j) * 2u * j + c % j;
    return vec2<u32>(lo, lo + j);
}

fn order_key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    let k = select(b ^ 0x80000000u, ~b, (b & 0x80000000u) != 0u);
    return select(k, ~k, p.desc != 0u);
}

@compute @workgroup_size(WG)
fn layers(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let n = p.n;
    let rb = row * n;
    if (p.l0 == 0u) {
        for (var i = lid; i < n; i = i + WG) {
            keys[rb + i] = vec2<u32>(order_key(x[rb + i]), i);
        }
        storageBarrier();
    }
    var st = stage_of(p.l0);
    for (var l = p.l0; l < p.l1; l = l + 1u) {
        for (var c = lid; c < p.pairs; c = c + WG) {
            let lh = comparator(st, c);
            if (lh.y >= n) {
                continue;
            }
            let a = keys[rb + lh.x];
            let b = keys[rb + lh.y];
            if (a.x > b.x || (a.x == b.x && a.y > b.y)) {
                keys[rb + lh.x] = b;
                keys[rb + lh.y] = a;
            }
        }
        storageBarrier();
        st = next_stage(st);
    }
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let e = (wid.x + wid.y * nwg.x) * WG + lid;
    if (e >= p.rows * p.kout) {
        return;
    }
    let row = e / p.kout;
    let j = e % p.kout;
    let idx = keys[row * p.n + j].y;
    if (MODE == 0u) {
        out[e] = x[row * p.n + idx];
    } else if (MODE == 1u) {
        out[e] = f32(idx);
    } else {
        out[row * p.n + idx] = f32(j + 1u);
    }
}
