// conv2d_backward_weight_v4: dw as an implicit GEMM over the output pixels, with
// subgroup broadcasts of dy (the style of conv2d_forward_v4, the lavapipe winner).
// Generated from conv2d_backward_weight_v2.wgsl by tools/variants/apply.py with
// tools/variants/conv2d_backward_weight_v4.variant: edit those, then run tools/variants/regen.sh.
//
// bindings
//   0 uniform Params (see ops/conv2d/geometry.rs): sizes, stride, padding, dilation, groups;
//     chunk = output pixels (over n, oh, ow; a multiple of 4) per chunk, n_chunks,
//     og_pad = Og rounded up to the channel tile (32 * H), cg_pad = Cg rounded up to R
//   1 storage read       dy: array<f32>, [N, O, OH, OW]
//   2 storage read       dy4: array<vec4<f32>>, the same buffer (read when ALIGNED)
//   3 storage read       x: array<f32>, [N, C, H, W]
//   4 storage read_write part: array<f32>, [n_chunks, O, Cg, KH, KW] partial sums
// One invocation computes R rows (one tap, R consecutive input channels) times a tile
// of 32 * H output channels of one group, summed over one chunk of output pixels; grid:
// x over blocks of WG invocations (row blocks: tap-major, cg_pad / R per tap), y over
// chunks, z over (group, channel tile). The pixels are walked 4 at a time with
// incremental (n, oh, ow) counters (integer division is slow on CPU drivers); per quad
// each lane loads its R x 4 inputs and 4H vec4s of dy (lane j % 8 loads the quad of
// channels j, 8 + j, 16 + j, ... of the tile: one vec4 when ALIGNED, i.e. OH*OW % 4 == 0,
// else 4 scalars), and subgroupBroadcast hands every lane the dy of all 32 * H channels
// as mat4x4 blocks (4 pixels x 4 channels); acc[row][block] += inputs(row) * block.
// Lanes 0..7 of a subgroup are the sources, so any subgroup size >= 8 works. Every lane
// runs to the end (the broadcasts need the whole subgroup): rows past Cg or the last tap
// read clamped rows and are not stored.
// The host adds the partial sums over chunks in a fixed order (deterministic).
// Unrolled by hand (llvmpipe keeps loops as they are). Loop trip count per invocation:
// chunk / 4 (the caller keeps it under the 65,535 cap). WG 8: few wasted row blocks.
// Overrides: H (tile 32 * H, 1 or 2), R (rows per invocation, 4 or 8), ALIGNED, and
// SPAN: rows are taken across taps (row k = tap k / Cg, channel k % Cg, K = KH*KW*Cg),
// for small Cg, where one tap's R rows would be mostly padding.

struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, kh: u32, kw: u32, groups: u32,
    oh: u32, ow: u32, cg: u32, og: u32,
    sh: u32, sw: u32, ph: u32, pw: u32,
    dh: u32, dw: u32, total: u32, chunk: u32,
    n_chunks: u32, rh: u32, rw: u32, cls_h: u32,
    cls_w: u32, og_pad: u32, cg_pad: u32, _p0: u32,
}

override WG: u32 = 8u;
override H: u32 = 2u;
override R: u32 = 8u;
override ALIGNED: bool = true;
override SPAN: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;

// An output pixel (n, oh, ow), walked in order without division.
struct Pixel {
    n: u32,
    oh: u32,
    ow: u32,
}

fn next(v: Pixel) -> Pixel {
    let ow = v.ow + 1u;
    let wrap = ow == p.ow;
    let oh = v.oh + select(0u, 1u, wrap);
    let wrap2 = oh == p.oh;
    return Pixel(v.n + select(0u, 1u, wrap2), select(oh, 0u, wrap2), select(ow, 0u, wrap));
}

// Offset in x of channel ci0 (of group g) at the tap's input for pixel v, or 0xffffffff
// in the padding or past the chunk (valid = false).
fn tap(v: Pixel, valid: bool, g: u32, ci0: u32, dr: i32, dc: i32) -> u32 {
    let ih = i32(v.oh * p.sh) - i32(p.ph) + dr;
    let iw = i32(v.ow * p.sw) - i32(p.pw) + dc;
    let ok = valid && ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w);
    return select(0xffffffffu, ((v.n * p.c + g * p.cg + ci0) * p.h + u32(ih)) * p.w + u32(iw), ok);
}

// SPAN: channel and tap shifts of row k (tap k / Cg, channel k % Cg).
struct SpanRow {
    ci: u32,
    dr: i32,
    dc: i32,
}

fn span_row(k: u32) -> SpanRow {
    let t = k / p.cg;
    return SpanRow(k % p.cg, i32(t / p.kw * p.dh), i32(t % p.kw * p.dw));
}

// x at offset off + r channels (0 at 0xffffffff and for channels past Cg).
fn input(off: u32, r: u32, ci0: u32) -> f32 {
    let ok = off != 0xffffffffu && ci0 + r < p.cg;
    return select(0.0, x[select(0u, off + r * p.h * p.w, ok)], ok);
}

// dy of output channel o (of the group; 0 past Og) at the 4 pixels from v (quad base
// offset `base` in channel 0 of the group; those past the chunk read 0).
fn grads(v0: Pixel, v1: Pixel, v2: Pixel, v3: Pixel, ok: vec4<bool>, base: u32, g: u32, o: u32) -> vec4<f32> {
    let ohw = p.oh * p.ow;
    let c = min(o, p.og - 1u);
    if (ALIGNED) {
        // The quad never straddles two images and starts on a multiple of 4.
        return select(vec4<f32>(0.0), dy4[(base + c * ohw) / 4u], ok & vec4<bool>(o < p.og));
    }
    let b = (g * p.og + c) * ohw;
    let i0 = (v0.n * p.o) * ohw + b + v0.oh * p.ow + v0.ow;
    let i1 = (v1.n * p.o) * ohw + b + v1.oh * p.ow + v1.ow;
    let i2 = (v2.n * p.o) * ohw + b + v2.oh * p.ow + v2.ow;
    let i3 = (v3.n * p.o) * ohw + b + v3.oh * p.ow + v3.ow;
    let v = vec4<f32>(dy[select(0u, i0, ok.x)], dy[select(0u, i1, ok.y)], dy[select(0u, i2, ok.z)],
                      dy[select(0u, i3, ok.w)]);
    return select(vec4<f32>(0.0), v, ok & vec4<bool>(o < p.og));
}

// Stores 16 channels (ob .. ob + 15, as 4 vec4s) of row (tap t, channel ci).
fn store_row(chunk: u32, g: u32, t: u32, ci: u32, ob: u32, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>,
             a3: vec4<f32>) {
    if (ci >= p.cg || t >= p.kh * p.kw) {
        return;
    }
    let taps = p.kh * p.kw;
    // part[chunk, g * Og + o, ci, t]
    let base = ((chunk * p.o + g * p.og + ob) * p.cg + ci) * taps + t;
    let so = p.cg * taps;
    if (ob + 0u < p.og) { part[base + 0u * so] = a0.x; }
    if (ob + 1u < p.og) { part[base + 1u * so] = a0.y; }
    if (ob + 2u < p.og) { part[base + 2u * so] = a0.z; }
    if (ob + 3u < p.og) { part[base + 3u * so] = a0.w; }
    if (ob + 4u < p.og) { part[base + 4u * so] = a1.x; }
    if (ob + 5u < p.og) { part[base + 5u * so] = a1.y; }
    if (ob + 6u < p.og) { part[base + 6u * so] = a1.z; }
    if (ob + 7u < p.og) { part[base + 7u * so] = a1.w; }
    if (ob + 8u < p.og) { part[base + 8u * so] = a2.x; }
    if (ob + 9u < p.og) { part[base + 9u * so] = a2.y; }
    if (ob + 10u < p.og) { part[base + 10u * so] = a2.z; }
    if (ob + 11u < p.og) { part[base + 11u * so] = a2.w; }
    if (ob + 12u < p.og) { part[base + 12u * so] = a3.x; }
    if (ob + 13u < p.og) { part[base + 13u * so] = a3.y; }
    if (ob + 14u < p.og) { part[base + 14u * so] = a3.z; }
    if (ob + 15u < p.og) { part[base + 15u * so] = a3.w; }
}

// Stores 16 channels of SPAN row k (tap k / Cg, channel k % Cg; none past K).
fn store_k(chunk: u32, g: u32, k: u32, ob: u32, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>) {
    let taps = p.kh * p.kw;
    if (k >= taps * p.cg) {
        return;
    }
    store_row(chunk, g, k / p.cg, k % p.cg, ob, a0, a1, a2, a3);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sg_lane: u32) {
    // No early return: every lane takes part in the broadcasts.
    let tiles = p.og_pad / (32u * H);
    let g = wid.z / tiles;
    let ct = wid.z % tiles;
    let chunk = wid.y;
    // Row block: tap t, input channels ci0 .. ci0 + R - 1 (SPAN: rows rb * R + r).
    let blocks = p.cg_pad / R;
    let rb = wid.x * WG + lid;
    let t = rb / blocks;
    let ci0 = rb % blocks * R;
    let tt = min(t, p.kh * p.kw - 1u);
    let dr = i32(tt / p.kw * p.dh);
    let dc = i32(tt % p.kw * p.dw);
    let kk = p.kh * p.kw * p.cg;
    let s0 = span_row(min(rb * R + 0u, kk - 1u));
    let s1 = span_row(min(rb * R + 1u, kk - 1u));
    let s2 = span_row(min(rb * R + 2u, kk - 1u));
    let s3 = span_row(min(rb * R + 3u, kk - 1u));
    let s4 = span_row(min(rb * R + 4u, kk - 1u));
    let s5 = span_row(min(rb * R + 5u, kk - 1u));
    let s6 = span_row(min(rb * R + 6u, kk - 1u));
    let s7 = span_row(min(rb * R + 7u, kk - 1u));
    let lane = ct * 32u * H + sg_lane % 8u;
    let ohw = p.oh * p.ow;
    let start = chunk * p.chunk;
    let end = min(start + p.chunk, p.n * ohw);
    var v = Pixel(start / ohw, start % ohw / p.ow, start % p.ow);
    var a0_0 = vec4<f32>(0.0);
    var a0_1 = vec4<f32>(0.0);
    var a0_2 = vec4<f32>(0.0);
    var a0_3 = vec4<f32>(0.0);
    var a0_4 = vec4<f32>(0.0);
    var a0_5 = vec4<f32>(0.0);
    var a0_6 = vec4<f32>(0.0);
    var a0_7 = vec4<f32>(0.0);
    var a0_8 = vec4<f32>(0.0);
    var a0_9 = vec4<f32>(0.0);
    var a0_10 = vec4<f32>(0.0);
    var a0_11 = vec4<f32>(0.0);
    var a0_12 = vec4<f32>(0.0);
    var a0_13 = vec4<f32>(0.0);
    var a0_14 = vec4<f32>(0.0);
    var a0_15 = vec4<f32>(0.0);
    var a1_0 = vec4<f32>(0.0);
    var a1_1 = vec4<f32>(0.0);
    var a1_2 = vec4<f32>(0.0);
    var a1_3 = vec4<f32>(0.0);
    var a1_4 = vec4<f32>(0.0);
    var a1_5 = vec4<f32>(0.0);
    var a1_6 = vec4<f32>(0.0);
    var a1_7 = vec4<f32>(0.0);
    var a1_8 = vec4<f32>(0.0);
    var a1_9 = vec4<f32>(0.0);
    var a1_10 = vec4<f32>(0.0);
    var a1_11 = vec4<f32>(0.0);
    var a1_12 = vec4<f32>(0.0);
    var a1_13 = vec4<f32>(0.0);
    var a1_14 = vec4<f32>(0.0);
    var a1_15 = vec4<f32>(0.0);
    var a2_0 = vec4<f32>(0.0);
    var a2_1 = vec4<f32>(0.0);
    var a2_2 = vec4<f32>(0.0);
    var a2_3 = vec4<f32>(0.0);
    var a2_4 = vec4<f32>(0.0);
    var a2_5 = vec4<f32>(0.0);
    var a2_6 = vec4<f32>(0.0);
    var a2_7 = vec4<f32>(0.0);
    var a2_8 = vec4<f32>(0.0);
    var a2_9 = vec4<f32>(0.0);
    var a2_10 = vec4<f32>(0.0);
    var a2_11 = vec4<f32>(0.0);
    var a2_12 = vec4<f32>(0.0);
    var a2_13 = vec4<f32>(0.0);
    var a2_14 = vec4<f32>(0.0);
    var a2_15 = vec4<f32>(0.0);
    var a3_0 = vec4<f32>(0.0);
    var a3_1 = vec4<f32>(0.0);
    var a3_2 = vec4<f32>(0.0);
    var a3_3 = vec4<f32>(0.0);
    var a3_4 = vec4<f32>(0.0);
    var a3_5 = vec4<f32>(0.0);
    var a3_6 = vec4<f32>(0.0);
    var a3_7 = vec4<f32>(0.0);
    var a3_8 = vec4<f32>(0.0);
    var a3_9 = vec4<f32>(0.0);
    var a3_10 = vec4<f32>(0.0);
    var a3_11 = vec4<f32>(0.0);
    var a3_12 = vec4<f32>(0.0);
    var a3_13 = vec4<f32>(0.0);
    var a3_14 = vec4<f32>(0.0);
    var a3_15 = vec4<f32>(0.0);
    var a4_0 = vec4<f32>(0.0);
    var a4_1 = vec4<f32>(0.0);
    var a4_2 = vec4<f32>(0.0);
    var a4_3 = vec4<f32>(0.0);
    var a4_4 = vec4<f32>(0.0);
    var a4_5 = vec4<f32>(0.0);
    var a4_6 = vec4<f32>(0.0);
    var a4_7 = vec4<f32>(0.0);
    var a4_8 = vec4<f32>(0.0);
    var a4_9 = vec4<f32>(0.0);
    var a4_10 = vec4<f32>(0.0);
    var a4_11 = vec4<f32>(0.0);
    var a4_12 = vec4<f32>(0.0);
    var a4_13 = vec4<f32>(0.0);
    var a4_14 = vec4<f32>(0.0);
    var a4_15 = vec4<f32>(0.0);
    var a5_0 = vec4<f32>(0.0);
    var a5_1 = vec4<f32>(0.0);
    var a5_2 = vec4<f32>(0.0);
    var a5_3 = vec4<f32>(0.0);
    var a5_4 = vec4<f32>(0.0);
    var a5_5 = vec4<f32>(0.0);
    var a5_6 = vec4<f32>(0.0);
    var a5_7 = vec4<f32>(0.0);
    var a5_8 = vec4<f32>(0.0);
    var a5_9 = vec4<f32>(0.0);
    var a5_10 = vec4<f32>(0.0);
    var a5_11 = vec4<f32>(0.0);
    var a5_12 = vec4<f32>(0.0);
    var a5_13 = vec4<f32>(0.0);
    var a5_14 = vec4<f32>(0.0);
    var a5_15 = vec4<f32>(0.0);
    var a6_0 = vec4<f32>(0.0);
    var a6_1 = vec4<f32>(0.0);
    var a6_2 = vec4<f32>(0.0);
    var a6_3 = vec4<f32>(0.0);
    var a6_4 = vec4<f32>(0.0);
    var a6_5 = vec4<f32>(0.0);
    var a6_6 = vec4<f32>(0.0);
    var a6_7 = vec4<f32>(0.0);
    var a6_8 = vec4<f32>(0.0);
    var a6_9 = vec4<f32>(0.0);
    var a6_10 = vec4<f32>(0.0);
    var a6_11 = vec4<f32>(0.0);
    var a6_12 = vec4<f32>(0.0);
    var a6_13 = vec4<f32>(0.0);
    var a6_14 = vec4<f32>(0.0);
    var a6_15 = vec4<f32>(0.0);
    var a7_0 = vec4<f32>(0.0);
    var a7_1 = vec4<f32>(0.0);
    var a7_2 = vec4<f32>(0.0);
    var a7_3 = vec4<f32>(0.0);
    var a7_4 = vec4<f32>(0.0);
    var a7_5 = vec4<f32>(0.0);
    var a7_6 = vec4<f32>(0.0);
    var a7_7 = vec4<f32>(0.0);
    var a7_8 = vec4<f32>(0.0);
    var a7_9 = vec4<f32>(0.0);
    var a7_10 = vec4<f32>(0.0);
    var a7_11 = vec4<f32>(0.0);
    var a7_12 = vec4<f32>(0.0);
    var a7_13 = vec4<f32>(0.0);
    var a7_14 = vec4<f32>(0.0);
    var a7_15 = vec4<f32>(0.0);

    for (var m = start; m < end; m += 4u) {
        let v0 = v;
        let v1 = next(v0);
        let v2 = next(v1);
        let v3 = next(v2);
        v = next(v3);
        let ok = vec4<bool>(m < end, m + 1u < end, m + 2u < end, m + 3u < end);
        // Offset of the quad in dy channel 0 of the group (ALIGNED: one image).
        let base = (v0.n * p.o + g * p.og) * ohw + v0.oh * p.ow + v0.ow;
        // This lane's dy: channels lane, lane + 8, ... of the tile, at the 4 pixels.
        let d0 = grads(v0, v1, v2, v3, ok, base, g, lane);
        let d1 = grads(v0, v1, v2, v3, ok, base, g, lane + 8u);
        let d2 = grads(v0, v1, v2, v3, ok, base, g, lane + 16u);
        let d3 = grads(v0, v1, v2, v3, ok, base, g, lane + 24u);
        var d4 = vec4<f32>(0.0);
        var d5 = vec4<f32>(0.0);
        var d6 = vec4<f32>(0.0);
        var d7 = vec4<f32>(0.0);
        if (H == 2u) {
            d4 = grads(v0, v1, v2, v3, ok, base, g, lane + 32u);
            d5 = grads(v0, v1, v2, v3, ok, base, g, lane + 40u);
            d6 = grads(v0, v1, v2, v3, ok, base, g, lane + 48u);
            d7 = grads(v0, v1, v2, v3, ok, base, g, lane + 56u);
        }
        // Every lane's dy in blocks of 4 channels (columns) x 4 pixels (rows).
        let b0 = mat4x4<f32>(subgroupBroadcast(d0, 0u), subgroupBroadcast(d0, 1u),
                    subgroupBroadcast(d0, 2u), subgroupBroadcast(d0, 3u));
        let b1 = mat4x4<f32>(subgroupBroadcast(d0, 4u), subgroupBroadcast(d0, 5u),
                    subgroupBroadcast(d0, 6u), subgroupBroadcast(d0, 7u));
        let b2 = mat4x4<f32>(subgroupBroadcast(d1, 0u), subgroupBroadcast(d1, 1u),
                    subgroupBroadcast(d1, 2u), subgroupBroadcast(d1, 3u));
        let b3 = mat4x4<f32>(subgroupBroadcast(d1, 4u), subgroupBroadcast(d1, 5u),
                    subgroupBroadcast(d1, 6u), subgroupBroadcast(d1, 7u));
        let b4 = mat4x4<f32>(subgroupBroadcast(d2, 0u), subgroupBroadcast(d2, 1u),
                    subgroupBroadcast(d2, 2u), subgroupBroadcast(d2, 3u));
        let b5 = mat4x4<f32>(subgroupBroadcast(d2, 4u), subgroupBroadcast(d2, 5u),
                    subgroupBroadcast(d2, 6u), subgroupBroadcast(d2, 7u));
        let b6 = mat4x4<f32>(subgroupBroadcast(d3, 0u), subgroupBroadcast(d3, 1u),
                    subgroupBroadcast(d3, 2u), subgroupBroadcast(d3, 3u));
        let b7 = mat4x4<f32>(subgroupBroadcast(d3, 4u), subgroupBroadcast(d3, 5u),
                    subgroupBroadcast(d3, 6u), subgroupBroadcast(d3, 7u));
        let b8 = mat4x4<f32>(subgroupBroadcast(d4, 0u), subgroupBroadcast(d4, 1u),
                    subgroupBroadcast(d4, 2u), subgroupBroadcast(d4, 3u));
        let b9 = mat4x4<f32>(subgroupBroadcast(d4, 4u), subgroupBroadcast(d4, 5u),
                    subgroupBroadcast(d4, 6u), subgroupBroadcast(d4, 7u));
        let b10 = mat4x4<f32>(subgroupBroadcast(d5, 0u), subgroupBroadcast(d5, 1u),
                    subgroupBroadcast(d5, 2u), subgroupBroadcast(d5, 3u));
        let b11 = mat4x4<f32>(subgroupBroadcast(d5, 4u), subgroupBroadcast(d5, 5u),
                    subgroupBroadcast(d5, 6u), subgroupBroadcast(d5, 7u));
        let b12 = mat4x4<f32>(subgroupBroadcast(d6, 0u), subgroupBroadcast(d6, 1u),
                    subgroupBroadcast(d6, 2u), subgroupBroadcast(d6, 3u));
        let b13 = mat4x4<f32>(subgroupBroadcast(d6, 4u), subgroupBroadcast(d6, 5u),
                    subgroupBroadcast(d6, 6u), subgroupBroadcast(d6, 7u));
        let b14 = mat4x4<f32>(subgroupBroadcast(d7, 0u), subgroupBroadcast(d7, 1u),
                    subgroupBroadcast(d7, 2u), subgroupBroadcast(d7, 3u));
        let b15 = mat4x4<f32>(subgroupBroadcast(d7, 4u), subgroupBroadcast(d7, 5u),
                    subgroupBroadcast(d7, 6u), subgroupBroadcast(d7, 7u));
        // This invocation's inputs at the tap, channels ci0 .. ci0 + R - 1.
        let o0 = tap(v0, ok[0], g, ci0, dr, dc);
        let o1 = tap(v1, ok[1], g, ci0, dr, dc);
        let o2 = tap(v2, ok[2], g, ci0, dr, dc);
        let o3 = tap(v3, ok[3], g, ci0, dr, dc);
        var x0 = vec4<f32>(0.0);
        if (!SPAN) {
            x0 = vec4<f32>(input(o0, 0u, ci0), input(o1, 0u, ci0), input(o2, 0u, ci0),
                             input(o3, 0u, ci0));
        } else {
            x0 = vec4<f32>(input(tap(v0, ok.x, g, s0.ci, s0.dr, s0.dc), 0u, 0u),
                             input(tap(v1, ok.y, g, s0.ci, s0.dr, s0.dc), 0u, 0u),
                             input(tap(v2, ok.z, g, s0.ci, s0.dr, s0.dc), 0u, 0u),
                             input(tap(v3, ok.w, g, s0.ci, s0.dr, s0.dc), 0u, 0u));
        }
        a0_0 += x0 * b0;
        a0_1 += x0 * b1;
        a0_2 += x0 * b2;
        a0_3 += x0 * b3;
        a0_4 += x0 * b4;
        a0_5 += x0 * b5;
        a0_6 += x0 * b6;
        a0_7 += x0 * b7;
        if (H == 2u) {
            a0_8 += x0 * b8;
            a0_9 += x0 * b9;
            a0_10 += x0 * b10;
            a0_11 += x0 * b11;
            a0_12 += x0 * b12;
            a0_13 += x0 * b13;
            a0_14 += x0 * b14;
            a0_15 += x0 * b15;
        }
        var x1 = vec4<f32>(0.0);
        if (!SPAN) {
            x1 = vec4<f32>(input(o0, 1u, ci0), input(o1, 1u, ci0), input(o2, 1u, ci0),
                             input(o3, 1u, ci0));
        } else {
            x1 = vec4<f32>(input(tap(v0, ok.x, g, s1.ci, s1.dr, s1.dc), 0u, 0u),
                             input(tap(v1, ok.y, g, s1.ci, s1.dr, s1.dc), 0u, 0u),
                             input(tap(v2, ok.z, g, s1.ci, s1.dr, s1.dc), 0u, 0u),
                             input(tap(v3, ok.w, g, s1.ci, s1.dr, s1.dc), 0u, 0u));
        }
        a1_0 += x1 * b0;
        a1_1 += x1 * b1;
        a1_2 += x1 * b2;
        a1_3 += x1 * b3;
        a1_4 += x1 * b4;
        a1_5 += x1 * b5;
        a1_6 += x1 * b6;
        a1_7 += x1 * b7;
        if (H == 2u) {
            a1_8 += x1 * b8;
            a1_9 += x1 * b9;
            a1_10 += x1 * b10;
            a1_11 += x1 * b11;
            a1_12 += x1 * b12;
            a1_13 += x1 * b13;
            a1_14 += x1 * b14;
            a1_15 += x1 * b15;
        }
        var x2 = vec4<f32>(0.0);
        if (!SPAN) {
            x2 = vec4<f32>(input(o0, 2u, ci0), input(o1, 2u, ci0), input(o2, 2u, ci0),
                             input(o3, 2u, ci0));
        } else {
            x2 = vec4<f32>(input(tap(v0, ok.x, g, s2.ci, s2.dr, s2.dc), 0u, 0u),
                             input(tap(v1, ok.y, g, s2.ci, s2.dr, s2.dc), 0u, 0u),
                             input(tap(v2, ok.z, g, s2.ci, s2.dr, s2.dc), 0u, 0u),
                             input(tap(v3, ok.w, g, s2.ci, s2.dr, s2.dc), 0u, 0u));
        }
        a2_0 += x2 * b0;
        a2_1 += x2 * b1;
        a2_2 += x2 * b2;
        a2_3 += x2 * b3;
        a2_4 += x2 * b4;
        a2_5 += x2 * b5;
        a2_6 += x2 * b6;
        a2_7 += x2 * b7;
        if (H == 2u) {
            a2_8 += x2 * b8;
            a2_9 += x2 * b9;
            a2_10 += x2 * b10;
            a2_11 += x2 * b11;
            a2_12 += x2 * b12;
            a2_13 += x2 * b13;
            a2_14 += x2 * b14;
            a2_15 += x2 * b15;
        }
        var x3 = vec4<f32>(0.0);
        if (!SPAN) {
            x3 = vec4<f32>(input(o0, 3u, ci0), input(o1, 3u, ci0), input(o2, 3u, ci0),
                             input(o3, 3u, ci0));
        } else {
            x3 = vec4<f32>(input(tap(v0, ok.x, g, s3.ci, s3.dr, s3.dc), 0u, 0u),
                             input(tap(v1, ok.y, g, s3.ci, s3.dr, s3.dc), 0u, 0u),
                             input(tap(v2, ok.z, g, s3.ci, s3.dr, s3.dc), 0u, 0u),
                             input(tap(v3, ok.w, g, s3.ci, s3.dr, s3.dc), 0u, 0u));
        }
        a3_0 += x3 * b0;
        a3_1 += x3 * b1;
        a3_2 += x3 * b2;
        a3_3 += x3 * b3;
        a3_4 += x3 * b4;
        a3_5 += x3 * b5;
        a3_6 += x3 * b6;
        a3_7 += x3 * b7;
        if (H == 2u) {
            a3_8 += x3 * b8;
            a3_9 += x3 * b9;
            a3_10 += x3 * b10;
            a3_11 += x3 * b11;
            a3_12 += x3 * b12;
            a3_13 += x3 * b13;
            a3_14 += x3 * b14;
            a3_15 += x3 * b15;
        }
        if (R == 8u) {
            var x4 = vec4<f32>(0.0);
            if (!SPAN) {
                x4 = vec4<f32>(input(o0, 4u, ci0), input(o1, 4u, ci0), input(o2, 4u, ci0),
                                 input(o3, 4u, ci0));
            } else {
                x4 = vec4<f32>(input(tap(v0, ok.x, g, s4.ci, s4.dr, s4.dc), 0u, 0u),
                                 input(tap(v1, ok.y, g, s4.ci, s4.dr, s4.dc), 0u, 0u),
                                 input(tap(v2, ok.z, g, s4.ci, s4.dr, s4.dc), 0u, 0u),
                                 input(tap(v3, ok.w, g, s4.ci, s4.dr, s4.dc), 0u, 0u));
            }
            a4_0 += x4 * b0;
            a4_1 += x4 * b1;
            a4_2 += x4 * b2;
            a4_3 += x4 * b3;
            a4_4 += x4 * b4;
            a4_5 += x4 * b5;
            a4_6 += x4 * b6;
            a4_7 += x4 * b7;
            if (H == 2u) {
                a4_8 += x4 * b8;
                a4_9 += x4 * b9;
                a4_10 += x4 * b10;
                a4_11 += x4 * b11;
                a4_12 += x4 * b12;
                a4_13 += x4 * b13;
                a4_14 += x4 * b14;
                a4_15 += x4 * b15;
            }
            var x5 = vec4<f32>(0.0);
            if (!SPAN) {
                x5 = vec4<f32>(input(o0, 5u, ci0), input(o1, 5u, ci0), input(o2, 5u, ci0),
                                 input(o3, 5u, ci0));
            } else {
                x5 = vec4<f32>(input(tap(v0, ok.x, g, s5.ci, s5.dr, s5.dc), 0u, 0u),
                                 input(tap(v1, ok.y, g, s5.ci, s5.dr, s5.dc), 0u, 0u),
                                 input(tap(v2, ok.z, g, s5.ci, s5.dr, s5.dc), 0u, 0u),
                                 input(tap(v3, ok.w, g, s5.ci, s5.dr, s5.dc), 0u, 0u));
            }
            a5_0 += x5 * b0;
            a5_1 += x5 * b1;
            a5_2 += x5 * b2;
            a5_3 += x5 * b3;
            a5_4 += x5 * b4;
            a5_5 += x5 * b5;
            a5_6 += x5 * b6;
            a5_7 += x5 * b7;
            if (H == 2u) {
                a5_8 += x5 * b8;
                a5_9 += x5 * b9;
                a5_10 += x5 * b10;
                a5_11 += x5 * b11;
                a5_12 += x5 * b12;
                a5_13 += x5 * b13;
                a5_14 += x5 * b14;
                a5_15 += x5 * b15;
            }
            var x6 = vec4<f32>(0.0);
            if (!SPAN) {
                x6 = vec4<f32>(input(o0, 6u, ci0), input(o1, 6u, ci0), input(o2, 6u, ci0),
                                 input(o3, 6u, ci0));
            } else {
                x6 = vec4<f32>(input(tap(v0, ok.x, g, s6.ci, s6.dr, s6.dc), 0u, 0u),
                                 input(tap(v1, ok.y, g, s6.ci, s6.dr, s6.dc), 0u, 0u),
                                 input(tap(v2, ok.z, g, s6.ci, s6.dr, s6.dc), 0u, 0u),
                                 input(tap(v3, ok.w, g, s6.ci, s6.dr, s6.dc), 0u, 0u));
            }
            a6_0 += x6 * b0;
            a6_1 += x6 * b1;
            a6_2 += x6 * b2;
            a6_3 += x6 * b3;
            a6_4 += x6 * b4;
            a6_5 += x6 * b5;
            a6_6 += x6 * b6;
            a6_7 += x6 * b7;
            if (H == 2u) {
                a6_8 += x6 * b8;
                a6_9 += x6 * b9;
                a6_10 += x6 * b10;
                a6_11 += x6 * b11;
                a6_12 += x6 * b12;
                a6_13 += x6 * b13;
                a6_14 += x6 * b14;
                a6_15 += x6 * b15;
            }
            var x7 = vec4<f32>(0.0);
            if (!SPAN) {
                x7 = vec4<f32>(input(o0, 7u, ci0), input(o1, 7u, ci0), input(o2, 7u, ci0),
                                 input(o3, 7u, ci0));
            } else {
                x7 = vec4<f32>(input(tap(v0, ok.x, g, s7.ci, s7.dr, s7.dc), 0u, 0u),
                                 input(tap(v1, ok.y, g, s7.ci, s7.dr, s7.dc), 0u, 0u),
                                 input(tap(v2, ok.z, g, s7.ci, s7.dr, s7.dc), 0u, 0u),
                                 input(tap(v3, ok.w, g, s7.ci, s7.dr, s7.dc), 0u, 0u));
            }
            a7_0 += x7 * b0;
            a7_1 += x7 * b1;
            a7_2 += x7 * b2;
            a7_3 += x7 * b3;
            a7_4 += x7 * b4;
            a7_5 += x7 * b5;
            a7_6 += x7 * b6;
            a7_7 += x7 * b7;
            if (H == 2u) {
                a7_8 += x7 * b8;
                a7_9 += x7 * b9;
                a7_10 += x7 * b10;
                a7_11 += x7 * b11;
                a7_12 += x7 * b12;
                a7_13 += x7 * b13;
                a7_14 += x7 * b14;
                a7_15 += x7 * b15;
            }
        }
    }

    let ob = ct * 32u * H;
    if (SPAN) {
        store_k(chunk, g, rb * R + 0u, ob, a0_0, a0_1, a0_2, a0_3);
        store_k(chunk, g, rb * R + 0u, ob + 16u, a0_4, a0_5, a0_6, a0_7);
    } else {
        store_row(chunk, g, t, ci0 + 0u, ob, a0_0, a0_1, a0_2, a0_3);
        store_row(chunk, g, t, ci0 + 0u, ob + 16u, a0_4, a0_5, a0_6, a0_7);
    }
    if (H == 2u) {
        if (SPAN) {
            store_k(chunk, g, rb * R + 0u, ob + 32u, a0_8, a0_9, a0_10, a0_11);
            store_k(chunk, g, rb * R + 0u, ob + 48u, a0_12, a0_13, a0_14, a0_15);
        } else {
            store_row(chunk, g, t, ci0 + 0u, ob + 32u, a0_8, a0_9, a0_10, a0_11);
            store_row(chunk, g, t, ci0 + 0u, ob + 48u, a0_12, a0_13, a0_14, a0_15);
        }
    }
    if (SPAN) {
        store_k(chunk, g, rb * R + 1u, ob, a1_0, a1_1, a1_2, a1_3);
        store_k(chunk, g, rb * R + 1u, ob + 16u, a1_4, a1_5, a1_6, a1_7);
    } else {
        store_row(chunk, g, t, ci0 + 1u, ob, a1_0, a1_1, a1_2, a1_3);
        store_row(chunk, g, t, ci0 + 1u, ob + 16u, a1_4, a1_5, a1_6, a1_7);
    }
    if (H == 2u) {
        if (SPAN) {
            store_k(chunk, g, rb * R + 1u, ob + 32u, a1_8, a1_9, a1_10, a1_11);
            store_k(chunk, g, rb * R + 1u, ob + 48u, a1_12, a1_13, a1_14, a1_15);
        } else {
            store_row(chunk, g, t, ci0 + 1u, ob + 32u, a1_8, a1_9, a1_10, a1_11);
            store_row(chunk, g, t, ci0 + 1u, ob + 48u, a1_12, a1_13, a1_14, a1_15);
        }
    }
    if (SPAN) {
        store_k(chunk, g, rb * R + 2u, ob, a2_0, a2_1, a2_2, a2_3);
        store_k(chunk, g, rb * R + 2u, ob + 16u, a2_4, a2_5, a2_6, a2_7);
    } else {
        store_row(chunk, g, t, ci0 + 2u, ob, a2_0, a2_1, a2_2, a2_3);
        store_row(chunk, g, t, ci0 + 2u, ob + 16u, a2_4, a2_5, a2_6, a2_7);
    }
    if (H == 2u) {
        if (SPAN) {
            store_k(chunk, g, rb * R + 2u, ob + 32u, a2_8, a2_9, a2_10, a2_11);
            store_k(chunk, g, rb * R + 2u, ob + 48u, a2_12, a2_13, a2_14, a2_15);
        } else {
            store_row(chunk, g, t, ci0 + 2u, ob + 32u, a2_8, a2_9, a2_10, a2_11);
            store_row(chunk, g, t, ci0 + 2u, ob + 48u, a2_12, a2_13, a2_14, a2_15);
        }
    }
    if (SPAN) {
        store_k(chunk, g, rb * R + 3u, ob, a3_0, a3_1, a3_2, a3_3);
        store_k(chunk, g, rb * R + 3u, ob + 16u, a3_4, a3_5, a3_6, a3_7);
    } else {
        store_row(chunk, g, t, ci0 + 3u, ob, a3_0, a3_1, a3_2, a3_3);
        store_row(chunk, g, t, ci0 + 3u, ob + 16u, a3_4, a3_5, a3_6, a3_7);
    }
    if (H == 2u) {
        if (SPAN) {
            store_k(chunk, g, rb * R + 3u, ob + 32u, a3_8, a3_9, a3_10, a3_11);
            store_k(chunk, g, rb * R + 3u, ob + 48u, a3_12, a3_13, a3_14, a3_15);
        } else {
            store_row(chunk, g, t, ci0 + 3u, ob + 32u, a3_8, a3_9, a3_10, a3_11);
            store_row(chunk, g, t, ci0 + 3u, ob + 48u, a3_12, a3_13, a3_14, a3_15);
        }
    }
    if (R == 8u) {
        if (SPAN) {
            store_k(chunk, g, rb * R + 4u, ob, a4_0, a4_1, a4_2, a4_3);
            store_k(chunk, g, rb * R + 4u, ob + 16u, a4_4, a4_5, a4_6, a4_7);
        } else {
            store_row(chunk, g, t, ci0 + 4u, ob, a4_0, a4_1, a4_2, a4_3);
            store_row(chunk, g, t, ci0 + 4u, ob + 16u, a4_4, a4_5, a4_6, a4_7);
        }
        if (H == 2u) {
            if (SPAN) {
                store_k(chunk, g, rb * R + 4u, ob + 32u, a4_8, a4_9, a4_10, a4_11);
                store_k(chunk, g, rb * R + 4u, ob + 48u, a4_12, a4_13, a4_14, a4_15);
            } else {
                store_row(chunk, g, t, ci0 + 4u, ob + 32u, a4_8, a4_9, a4_10, a4_11);
                store_row(chunk, g, t, ci0 + 4u, ob + 48u, a4_12, a4_13, a4_14, a4_15);
            }
        }
        if (SPAN) {
            store_k(chunk, g, rb * R + 5u, ob, a5_0, a5_1, a5_2, a5_3);
            store_k(chunk, g, rb * R + 5u, ob + 16u, a5_4, a5_5, a5_6, a5_7);
        } else {
            store_row(chunk, g, t, ci0 + 5u, ob, a5_0, a5_1, a5_2, a5_3);
            store_row(chunk, g, t, ci0 + 5u, ob + 16u, a5_4, a5_5, a5_6, a5_7);
        }
        if (H == 2u) {
            if (SPAN) {
                store_k(chunk, g, rb * R + 5u, ob + 32u, a5_8, a5_9, a5_10, a5_11);
                store_k(chunk, g, rb * R + 5u, ob + 48u, a5_12, a5_13, a5_14, a5_15);
            } else {
                store_row(chunk, g, t, ci0 + 5u, ob + 32u, a5_8, a5_9, a5_10, a5_11);
                store_row(chunk, g, t, ci0 + 5u, ob + 48u, a5_12, a5_13, a5_14, a5_15);
            }
        }
        if (SPAN) {
            store_k(chunk, g, rb * R + 6u, ob, a6_0, a6_1, a6_2, a6_3);
            store_k(chunk, g, rb * R + 6u, ob + 16u, a6_4, a6_5, a6_6, a6_7);
        } else {
            store_row(chunk, g, t, ci0 + 6u, ob, a6_0, a6_1, a6_2, a6_3);
            store_row(chunk, g, t, ci0 + 6u, ob + 16u, a6_4, a6_5, a6_6, a6_7);
        }
        if (H == 2u) {
            if (SPAN) {
                store_k(chunk, g, rb * R + 6u, ob + 32u, a6_8, a6_9, a6_10, a6_11);
                store_k(chunk, g, rb * R + 6u, ob + 48u, a6_12, a6_13, a6_14, a6_15);
            } else {
                store_row(chunk, g, t, ci0 + 6u, ob + 32u, a6_8, a6_9, a6_10, a6_11);
                store_row(chunk, g, t, ci0 + 6u, ob + 48u, a6_12, a6_13, a6_14, a6_15);
            }
        }
        if (SPAN) {
            store_k(chunk, g, rb * R + 7u, ob, a7_0, a7_1, a7_2, a7_3);
            store_k(chunk, g, rb * R + 7u, ob + 16u, a7_4, a7_5, a7_6, a7_7);
        } else {
            store_row(chunk, g, t, ci0 + 7u, ob, a7_0, a7_1, a7_2, a7_3);
            store_row(chunk, g, t, ci0 + 7u, ob + 16u, a7_4, a7_5, a7_6, a7_7);
        }
        if (H == 2u) {
            if (SPAN) {
                store_k(chunk, g, rb * R + 7u, ob + 32u, a7_8, a7_9, a7_10, a7_11);
                store_k(chunk, g, rb * R + 7u, ob + 48u, a7_12, a7_13, a7_14, a7_15);
            } else {
                store_row(chunk, g, t, ci0 + 7u, ob + 32u, a7_8, a7_9, a7_10, a7_11);
                store_row(chunk, g, t, ci0 + 7u, ob + 48u, a7_12, a7_13, a7_14, a7_15);
            }
        }
    }
}
