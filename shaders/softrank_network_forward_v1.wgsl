// softrank_network_forward_v1: soft ranks through a relaxed sorting network
// (odd-even transposition or bitonic, logistic or Cauchy swaps), forward only.
//
// bindings
//   0 uniform Params: rows (in this chunk), row0 (its first row), n, pairs (comparator
//     slots per layer), layers, seg (layers per segment), l0 and l1 (sweep: layer range;
//     segment: l0 = segment index), stride (scratch floats per row), off_ck and off_d
//     (scratch offsets), beta = 1 / strength, sign (+1 ascending, -1 descending)
//   1 storage read       x: array<f32>, [rows total, n]
//   2 storage read_write r: array<f32>, [rows total, n], the soft ranks
//   3 storage read_write work: array<f32>, [rows, stride] scratch per row:
//     [0, n) wire values, [n, 2n) rank sweep v, off_ck + k*n: checkpoint of the wire
//     values at the start of segment k, off_d + t*pairs: d = b - a of every comparator
//     of layer la + t of the current segment
// Entry `sweep`: one workgroup per row runs layers [l0, l1) on the wire values (l0 = 0
// also loads sign * x), writing a checkpoint at each segment start. Entry `segment`:
// one workgroup per row recomputes segment l0 from its checkpoint, keeping every d,
// then walks its layers backwards carrying the rank vector (v = 1..n at the outputs
// of the last layer): r = L_1 ... L_m (1..n) (see reference/softrank/network.rs).
// Segment 0 writes r. The host runs segments last to first and keeps every
// invocation's loop count under llvmpipe's 65,535 cap by splitting the sweep.
// Comparator (lo, hi), lo < hi: alpha = f(beta (b - a)), lo <- alpha a + (1 - alpha) b,
// hi <- (1 - alpha) a + alpha b. Slots with hi >= n are empty.
// WG (override, 1..256; the host uses 32 on CPU adapters, where a barrier costs per
// lane, up to 256 elsewhere): lanes share one row's comparators; storageBarrier between layers.
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

override WG: u32 = 256u;
override KIND: u32 = 0u;
override RELAX: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> r: array<f32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;

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
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let sb = row * p.stride;
    let n = p.n;
    if (p.l0 == 0u) {
        let xb = (p.row0 + row) * n;
        for (var i = lid; i < n; i = i + WG) {
            let v = p.sign * x[xb + i];
            work[sb + i] = v;
            work[sb + p.off_ck + i] = v;
        }
        storageBarrier();
    }
    var st = stage_of(p.l0);
    for (var l = p.l0; l < p.l1; l = l + 1u) {
        for (var c = lid; c < p.pairs; c = c + WG) {
            let lh = comparator(l, st, c);
            if (lh.y >= n) {
                continue;
            }
            let a = work[sb + lh.x];
            let b = work[sb + lh.y];
            let al = alpha(p.beta * (b - a));
            work[sb + lh.x] = al * a + (1.0 - al) * b;
            work[sb + lh.y] = (1.0 - al) * a + al * b;
        }
        storageBarrier();
        if ((l + 1u) % p.seg == 0u) {
            let ck = sb + p.off_ck + ((l + 1u) / p.seg) * n;
            for (var i = lid; i < n; i = i + WG) {
                work[ck + i] = work[sb + i];
            }
            storageBarrier();
        }
        st = next_stage(st);
    }
}

@compute @workgroup_size(WG)
fn segment(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let sb = row * p.stride;
    let n = p.n;
    let k = p.l0;
    let la = k * p.seg;
    let lb = min(p.layers, la + p.seg);
    let ck = sb + p.off_ck + k * n;
    let last = la + p.seg >= p.layers;
    for (var i = lid; i < n; i = i + WG) {
        work[sb + i] = work[ck + i];
        if (last) {
            work[sb + n + i] = f32(i + 1u);
        }
    }
    storageBarrier();
    // Recompute the segment from its checkpoint, keeping d = b - a.
    var st = stage_of(la);
    for (var l = la; l < lb; l = l + 1u) {
        let db = sb + p.off_d + (l - la) * p.pairs;
        for (var c = lid; c < p.pairs; c = c + WG) {
            let lh = comparator(l, st, c);
            if (lh.y >= n) {
                continue;
            }
            let a = work[sb + lh.x];
            let b = work[sb + lh.y];
            let d = b - a;
            work[db + c] = d;
            let al = alpha(p.beta * d);
            work[sb + lh.x] = al * a + (1.0 - al) * b;
            work[sb + lh.y] = (1.0 - al) * a + al * b;
        }
        storageBarrier();
        st = next_stage(st);
    }
    // Carry the rank vector back through the segment's layers (each 2x2 block is symmetric).
    let vb = sb + n;
    for (var l1 = lb; l1 > la; l1 = l1 - 1u) {
        let l = l1 - 1u;
        let stl = stage_of(l);
        let db = sb + p.off_d + (l - la) * p.pairs;
        for (var c = lid; c < p.pairs; c = c + WG) {
            let lh = comparator(l, stl, c);
            if (lh.y >= n) {
                continue;
            }
            let al = alpha(p.beta * work[db + c]);
            let vl = work[vb + lh.x];
            let vh = work[vb + lh.y];
            work[vb + lh.x] = al * vl + (1.0 - al) * vh;
            work[vb + lh.y] = (1.0 - al) * vl + al * vh;
        }
        storageBarrier();
    }
    if (k == 0u) {
        let xb = (p.row0 + row) * n;
        for (var i = lid; i < n; i = i + WG) {
            r[xb + i] = work[vb + i];
        }
    }
}
