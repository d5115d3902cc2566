// softrank_network_forward_v2: soft ranks through a relaxed sorting network, one
// invocation per row (no barriers), rows interleaved in the scratch.
//
// bindings: as softrank_network_forward_v1.wgsl, except the scratch layout
//   3 storage read_write work: array<f32>, [stride, rows]: slot s of row j at s * rows + j
//     (slots as in v1: wire values, rank sweep v, checkpoints, d values)
// Entries `sweep` and `segment` do what v1's do, but one invocation walks every
// comparator of its own row: no storageBarrier, and since all rows run the same
// comparators, neighbouring lanes load neighbouring words. Per invocation about
// (l1 - l0) * (1 + pairs) loop iterations in a sweep and 2 * seg * (1 + pairs) in a
// segment: the host sizes both under llvmpipe's 65,535 cap.
// WG 64 (override): rows per workgroup.
// KIND (override): 0 odd-even, 1 bitonic. RELAX (override): 0 logistic, 1 Cauchy.

struct Params {
    rows: u32,
    row0: u32,
    n: u32,
    pairs: u32,
    layers: u32,
    seg: u32,
    l0: u32,
    l1: u32,
    stride: u32,
    off_ck: u32,
    off_d: u32,
    beta: f32,
    sign: f32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

override WG: u32 = 64u;
override KIND: u32 = 0u;
override RELAX: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> r: array<f32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;

var<private> lane: u32;

// Scratch slot s of this invocation's row: rows are interleaved, so the lanes of a
// SIMD group touch consecutive words.
fn at(s: u32) -> u32 {
    return s * p.rows + lane;
}

const INV_PI: f32 = 0.3183098861837907;

fn alpha(t: f32) -> f32 {
    if (RELAX == 0u) {
        let e = exp(-abs(t));
        let s = 1.0 / (1.0 + e);
        return select(e * s, s, t >= 0.0);
    }
    return atan(t) * INV_PI + 0.5;
}

// Bitonic layer l -> (stage s: blocks of 2^s, step t in the stage); unused for odd-even.
fn stage_of(l: u32) -> vec2<u32> {
    var s = 1u;
    var t = l;
    while (KIND == 1u && t >= s) {
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

// (lo, hi) of slot c in layer l (stage st for bitonic); hi >= n means empty.
fn comparator(l: u32, st: vec2<u32>, c: u32) -> vec2<u32> {
    if (KIND == 0u) {
        let lo = 2u * c + (l & 1u);
        return vec2<u32>(lo, lo + 1u);
    }
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

@compute @workgroup_size(WG)
fn sweep(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let row = (wid.x + wid.y * nwg.x) * WG + lid;
    if (row >= p.rows) {
        return;
    }
    lane = row;
    let n = p.n;
    if (p.l0 == 0u) {
        let xb = (p.row0 + row) * n;
        for (var i = 0u; i < n; i = i + 1u) {
            let v = p.sign * x[xb + i];
            work[at(i)] = v;
            work[at(p.off_ck + i)] = v;
        }
    }
    var st = stage_of(p.l0);
    for (var l = p.l0; l < p.l1; l = l + 1u) {
        for (var c = 0u; c < p.pairs; c = c + 1u) {
            let lh = comparator(l, st, c);
            if (lh.y >= n) {
                continue;
            }
            let a = work[at(lh.x)];
            let b = work[at(lh.y)];
            let al = alpha(p.beta * (b - a));
            work[at(lh.x)] = al * a + (1.0 - al) * b;
            work[at(lh.y)] = (1.0 - al) * a + al * b;
        }
        if ((l + 1u) % p.seg == 0u) {
            let ck = p.off_ck + ((l + 1u) / p.seg) * n;
            for (var i = 0u; i < n; i = i + 1u) {
                work[at(ck + i)] = work[at(i)];
            }
        }
        st = next_stage(st);
    }
}

@compute @workgroup_size(WG)
fn segment(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let row = (wid.x + wid.y * nwg.x) * WG + lid;
    if (row >= p.rows) {
        return;
    }
    lane = row;
    let n = p.n;
    let k = p.l0;
    let la = k * p.seg;
    let lb = min(p.layers, la + p.seg);
    let ck = p.off_ck + k * n;
    let last = la + p.seg >= p.layers;
    for (var i = 0u; i < n; i = i + 1u) {
        work[at(i)] = work[at(ck + i)];
        if (last) {
            work[at(n + i)] = f32(i + 1u);
        }
    }
    // Recompute the segment from its checkpoint, keeping d = b - a.
    var st = stage_of(la);
    for (var l = la; l < lb; l = l + 1u) {
        let db = p.off_d + (l - la) * p.pairs;
        for (var c = 0u; c < p.pairs; c = c + 1u) {
            let lh = comparator(l, st, c);
            if (lh.y >= n) {
                continue;
            }
            let a = work[at(lh.x)];
            let b = work[at(lh.y)];
            let d = b - a;
            work[at(db + c)] = d;
            let al = alpha(p.beta * d);
            work[at(lh.x)] = al * a + (1.0 - al) * b;
            work[at(lh.y)] = (1.0 - al) * a + al * b;
        }
        st = next_stage(st);
    }
    // Carry the rank vector back through the segment's layers (each 2x2 block is symmetric).
    let vb = n;
    for (var l1 = lb; l1 > la; l1 = l1 - 1u) {
        let l = l1 - 1u;
        let stl = stage_of(l);
        let db = p.off_d + (l - la) * p.pairs;
        for (var c = 0u; c < p.pairs; c = c + 1u) {
            let lh = comparator(l, stl, c);
            if (lh.y >= n) {
                continue;
            }
            let al = alpha(p.beta * work[at(db + c)]);
            let vl = work[at(vb + lh.x)];
            let vh = work[at(vb + lh.y)];
            work[at(vb + lh.x)] = al * vl + (1.0 - al) * vh;
            work[at(vb + lh.y)] = (1.0 - al) * vl + al * vh;
        }
    }
    if (k == 0u) {
        let xb = (p.row0 + row) * n;
        for (var i = 0u; i < n; i = i + 1u) {
            r[xb + i] = work[at(vb + i)];
        }
    }
}
