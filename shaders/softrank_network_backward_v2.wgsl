// softrank_network_backward_v2: VJP of the relaxed sorting-network soft ranks, one
// invocation per row (no barriers), rows interleaved in the scratch.
//
// bindings: as softrank_network_backward_v1.wgsl, except the scratch layout
//   4 storage read_write work: array<f32>, [stride, rows]: slot s of row j at s * rows + j
//     (slots as in v1: values, s, v, p, checkpoints, d and s_lo - s_hi)
// Entries `sweep` and `segment` do what v1's do (see there for the recurrences), one
// invocation walking every comparator of its own row; loop counts as the forward v2.
// WG 64 (override): rows per workgroup. KIND, RELAX: as v1.

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
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<f32>;

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

// f'(t) for the relaxation.
fn dalpha(t: f32) -> f32 {
    if (RELAX == 0u) {
        let e = exp(-abs(t));
        let s = 1.0 / (1.0 + e);
        return e * s * s;
    }
    return INV_PI / (1.0 + t * t);
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
    let s_off = n;
    if (p.l0 == 0u) {
        let xb = (p.row0 + row) * n;
        for (var i = 0u; i < n; i = i + 1u) {
            let v = p.sign * x[xb + i];
            let gv = g[xb + i];
            work[at(i)] = v;
            work[at(s_off + i)] = gv;
            work[at(p.off_ck + i)] = v;
            work[at(p.off_ck + n + i)] = gv;
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
            let sl = work[at(s_off + lh.x)];
            let sh = work[at(s_off + lh.y)];
            work[at(s_off + lh.x)] = al * sl + (1.0 - al) * sh;
            work[at(s_off + lh.y)] = (1.0 - al) * sl + al * sh;
        }
        if ((l + 1u) % p.seg == 0u) {
            let ck = p.off_ck + ((l + 1u) / p.seg) * 2u * n;
            for (var i = 0u; i < 2u * n; i = i + 1u) {
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
    let s_off = n;
    let vb = 2u * n;
    let pb = 3u * n;
    let k = p.l0;
    let la = k * p.seg;
    let lb = min(p.layers, la + p.seg);
    let ck = p.off_ck + k * 2u * n;
    let last = la + p.seg >= p.layers;
    for (var i = 0u; i < 2u * n; i = i + 1u) {
        work[at(i)] = work[at(ck + i)];
    }
    if (last) {
        for (var i = 0u; i < n; i = i + 1u) {
            work[at(vb + i)] = f32(i + 1u);
            work[at(pb + i)] = 0.0;
        }
    }
    // Recompute the segment from its checkpoint, keeping d and s_lo - s_hi.
    var st = stage_of(la);
    for (var l = la; l < lb; l = l + 1u) {
        let db = p.off_d + (l - la) * 2u * p.pairs;
        for (var c = 0u; c < p.pairs; c = c + 1u) {
            let lh = comparator(l, st, c);
            if (lh.y >= n) {
                continue;
            }
            let a = work[at(lh.x)];
            let b = work[at(lh.y)];
            let d = b - a;
            let al = alpha(p.beta * d);
            work[at(lh.x)] = al * a + (1.0 - al) * b;
            work[at(lh.y)] = (1.0 - al) * a + al * b;
            let sl = work[at(s_off + lh.x)];
            let sh = work[at(s_off + lh.y)];
            work[at(s_off + lh.x)] = al * sl + (1.0 - al) * sh;
            work[at(s_off + lh.y)] = (1.0 - al) * sl + al * sh;
            work[at(db + c)] = d;
            work[at(db + p.pairs + c)] = sl - sh;
        }
        st = next_stage(st);
    }
    // Walk the segment's layers backwards with the rank vector v and the adjoint p.
    for (var l1 = lb; l1 > la; l1 = l1 - 1u) {
        let l = l1 - 1u;
        let stl = stage_of(l);
        let db = p.off_d + (l - la) * 2u * p.pairs;
        for (var c = 0u; c < p.pairs; c = c + 1u) {
            let lh = comparator(l, stl, c);
            if (lh.y >= n) {
                continue;
            }
            let d = work[at(db + c)];
            let ds = work[at(db + p.pairs + c)];
            let t = p.beta * d;
            let al = alpha(t);
            let fp = p.beta * dalpha(t);
            let vl = work[at(vb + lh.x)];
            let vh = work[at(vb + lh.y)];
            let pl = work[at(pb + lh.x)];
            let ph = work[at(pb + lh.y)];
            let big_g = ds * (vl - vh) - (pl - ph) * d;
            work[at(vb + lh.x)] = al * vl + (1.0 - al) * vh;
            work[at(vb + lh.y)] = (1.0 - al) * vl + al * vh;
            work[at(pb + lh.x)] = al * pl + (1.0 - al) * ph - fp * big_g;
            work[at(pb + lh.y)] = (1.0 - al) * pl + al * ph + fp * big_g;
        }
    }
    if (k == 0u) {
        let xb = (p.row0 + row) * n;
        for (var i = 0u; i < n; i = i + 1u) {
            dx[xb + i] = p.sign * work[at(pb + i)];
        }
    }
}
