// softrank_network_backward_v1: vector-Jacobian product of the relaxed sorting
// network soft ranks (see softrank_network_forward_v1.wgsl for the network).
//
// bindings
//   0 uniform Params: as the forward (stride, off_ck, off_d for this layout)
//   1 storage read       x: array<f32>, [rows total, n], the forward input
//   2 storage read       g: array<f32>, [rows total, n], gradient of the ranks
//   3 storage read_write dx: array<f32>, [rows total, n]
//   4 storage read_write work: array<f32>, [rows, stride] scratch per row:
//     [0, n) wire values, [n, 2n) s (g carried forward), [2n, 3n) rank sweep v,
//     [3n, 4n) p (adjoint of the wire values), off_ck + k*2n: checkpoint of
//     (values, s) at the start of segment k, off_d + t*2*pairs: d = b - a and
//     (s_lo - s_hi) of every comparator of layer la + t of the current segment
// Entry `sweep`: one workgroup per row runs layers [l0, l1) on (values, s) (l0 = 0
// loads sign * x and g), writing checkpoints. Entry `segment`: recomputes segment l0
// from its checkpoint keeping d and s_lo - s_hi, then walks its layers backwards:
//     G = (s_lo - s_hi) (v_lo - v_hi) - (p_lo - p_hi) d,
//     p_lo <- alpha p_lo + (1 - alpha) p_hi - beta f' G, p_hi <- (1 - alpha) p_lo + alpha p_hi + beta f' G,
//     v <- the 2x2 mix,
// starting from v = 1..n, p = 0 in the last segment. Segment 0 writes dx = sign * p.
// Loop counts as in the forward (the host splits the sweep under the cap).
// WG (override, 1..256), KIND, RELAX: as in the forward.

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
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<storage, read_write> work: array<f32>;

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
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let sb = row * p.stride;
    let n = p.n;
    let s_off = sb + n;
    if (p.l0 == 0u) {
        let xb = (p.row0 + row) * n;
        for (var i = lid; i < n; i = i + WG) {
            let v = p.sign * x[xb + i];
            let gv = g[xb + i];
            work[sb + i] = v;
            work[s_off + i] = gv;
            work[sb + p.off_ck + i] = v;
            work[sb + p.off_ck + n + i] = gv;
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
            let sl = work[s_off + lh.x];
            let sh = work[s_off + lh.y];
            work[s_off + lh.x] = al * sl + (1.0 - al) * sh;
            work[s_off + lh.y] = (1.0 - al) * sl + al * sh;
        }
        storageBarrier();
        if ((l + 1u) % p.seg == 0u) {
            let ck = sb + p.off_ck + ((l + 1u) / p.seg) * 2u * n;
            for (var i = lid; i < 2u * n; i = i + WG) {
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
    let s_off = sb + n;
    let vb = sb + 2u * n;
    let pb = sb + 3u * n;
    let k = p.l0;
    let la = k * p.seg;
    let lb = min(p.layers, la + p.seg);
    let ck = sb + p.off_ck + k * 2u * n;
    let last = la + p.seg >= p.layers;
    for (var i = lid; i < 2u * n; i = i + WG) {
        work[sb + i] = work[ck + i];
    }
    if (last) {
        for (var i = lid; i < n; i = i + WG) {
            work[vb + i] = f32(i + 1u);
            work[pb + i] = 0.0;
        }
    }
    storageBarrier();
    // Recompute the segment from its checkpoint, keeping d and s_lo - s_hi.
    var st = stage_of(la);
    for (var l = la; l < lb; l = l + 1u) {
        let db = sb + p.off_d + (l - la) * 2u * p.pairs;
        for (var c = lid; c < p.pairs; c = c + WG) {
            let lh = comparator(l, st, c);
            if (lh.y >= n) {
                continue;
            }
            let a = work[sb + lh.x];
            let b = work[sb + lh.y];
            let d = b - a;
            let al = alpha(p.beta * d);
            work[sb + lh.x] = al * a + (1.0 - al) * b;
            work[sb + lh.y] = (1.0 - al) * a + al * b;
            let sl = work[s_off + lh.x];
            let sh = work[s_off + lh.y];
            work[s_off + lh.x] = al * sl + (1.0 - al) * sh;
            work[s_off + lh.y] = (1.0 - al) * sl + al * sh;
            work[db + c] = d;
            work[db + p.pairs + c] = sl - sh;
        }
        storageBarrier();
        st = next_stage(st);
    }
    // Walk the segment's layers backwards with the rank vector v and the adjoint p.
    for (var l1 = lb; l1 > la; l1 = l1 - 1u) {
        let l = l1 - 1u;
        let stl = stage_of(l);
        let db = sb + p.off_d + (l - la) * 2u * p.pairs;
        for (var c = lid; c < p.pairs; c = c + WG) {
            let lh = comparator(l, stl, c);
            if (lh.y >= n) {
                continue;
            }
            let d = work[db + c];
            let ds = work[db + p.pairs + c];
            let t = p.beta * d;
            let al = alpha(t);
            let fp = p.beta * dalpha(t);
            let vl = work[vb + lh.x];
            let vh = work[vb + lh.y];
            let pl = work[pb + lh.x];
            let ph = work[pb + lh.y];
            let big_g = ds * (vl - vh) - (pl - ph) * d;
            work[vb + lh.x] = al * vl + (1.0 - al) * vh;
            work[vb + lh.y] = (1.0 - al) * vl + al * vh;
            work[pb + lh.x] = al * pl + (1.0 - al) * ph - fp * big_g;
            work[pb + lh.y] = (1.0 - al) * pl + al * ph + fp * big_g;
        }
        storageBarrier();
    }
    if (k == 0u) {
        let xb = (p.row0 + row) * n;
        for (var i = lid; i < n; i = i + WG) {
            dx[xb + i] = p.sign * work[pb + i];
        }
    }
}
