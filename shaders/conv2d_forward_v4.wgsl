// conv2d_forward_v4: implicit GEMM with subgroup broadcasts of the weights (the
// lavapipe style: per-lane loads are slow there, register blocks and broadcasts fast).
// Generated from conv2d_forward_v2.wgsl by tools/variants/apply.py with
// tools/variants/conv2d_forward_v4.variant: edit those, then run tools/variants/regen.sh.
//
// bindings
//   0 uniform Params (see ops/conv2d/geometry.rs): sizes, stride, padding, dilation, groups;
//     total = N*OH*OW (output pixels), og_pad = Og rounded up to the channel tile
//     (32 * H), cg_pad = Cg rounded up to 4
//   1 storage read       x: array<f32>, [N, C, H, W]
//   2 storage read       wp: array<vec4<f32>>, the weights packed by conv2d_pack_v1:
//     [G, KH*KW, cg_pad, og_pad] (output channels fastest, zero padded), then the
//     bias rows [G, og_pad] (zeros without a bias)
//   3 storage read_write y: array<f32>, [N, O, OH, OW]
// One invocation computes P consecutive output pixels (flattened over n, oh, ow) times
// one tile of 32 * H output channels of one group; grid: (x, y) over pixel blocks of
// WG * P, z over (group, channel tile). Per tap and step of 2 input channels, each lane
// loads its P x 2 inputs and H x 2 vec4s of weights (lane j % 8 loads channels
// 4j .. 4j + 3 of each half tile), then subgroupBroadcast hands every lane all 32 * H
// weights, as mat4x4 blocks of 16 channels; the accumulators are P x 2H such blocks.
// Lanes 0..7 of a subgroup are the sources, so any subgroup size >= 8 works (8 on
// lavapipe, 32 on NVIDIA). Every lane runs to the end (the broadcasts need the whole
// subgroup): pixels past the end are clamped and not stored.
// The code is unrolled by hand: llvmpipe keeps loops (and arrays indexed in them) as
// they are, which would move the accumulators to memory.
// Loop trip count per invocation: KH*KW*(1 + cg_pad/2) (the caller keeps Cg*KH*KW
// under the 65,535 cap). WG 64: a multiple of every subgroup size up to 64.
// Overrides: H (channel tile 32 * H, 1 or 2) and P (pixels per invocation: 8, or 16
// when H = 1; P x H x 32 accumulators either way).

struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, kh: u32, kw: u32, groups: u32,
    oh: u32, ow: u32, cg: u32, og: u32,
    sh: u32, sw: u32, ph: u32, pw: u32,
    dh: u32, dw: u32, total: u32, chunk: u32,
    n_chunks: u32, rh: u32, rw: u32, cls_h: u32,
    cls_w: u32, og_pad: u32, cg_pad: u32, _p0: u32,
}

override WG: u32 = 64u;
override H: u32 = 2u;
override P: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// The window of one output pixel: offset of its image's first channel of the group,
// and the input row and column of its top-left tap.
struct Window {
    base: u32,
    row: i32,
    col: i32,
}

fn window(m: u32, g: u32) -> Window {
    let ohw = p.oh * p.ow;
    let r = m % ohw;
    return Window((m / ohw * p.c + g * p.cg) * p.h * p.w, i32(r / p.ow * p.sh) - i32(p.ph),
                  i32(r % p.ow * p.sw) - i32(p.pw));
}

// Offset of tap (kh, kw) of a window in channel 0 of the group, or 0xffffffff in the
// padding.
fn tap(v: Window, kh: u32, kw: u32) -> u32 {
    let ih = v.row + i32(kh * p.dh);
    let iw = v.col + i32(kw * p.dw);
    let ok = ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w);
    return select(0xffffffffu, v.base + u32(ih) * p.w + u32(iw), ok);
}

// Inputs of channels c .. c + 1 at a tap offset (0 in the padding and past Cg).
fn inputs(off: u32, c: u32) -> vec2<f32> {
    let hw = p.h * p.w;
    let ok = off != 0xffffffffu;
    let o = select(0u, off, ok);
    let v1 = ok && c + 1u < p.cg;
    return vec2<f32>(select(0.0, x[o + c * hw], ok),
                     select(0.0, x[select(0u, o + (c + 1u) * hw, v1)], v1));
}

// Stores block `a` of pixel m: channels ob .. ob + 15 of group g (those below Og).
fn store_block(m: u32, g: u32, ob: u32, a: mat4x4<f32>) {
    if (m >= p.total) {
        return;
    }
    let ohw = p.oh * p.ow;
    let base = (m / ohw * p.o + g * p.og + ob) * ohw + m % ohw;
    if (ob + 0u < p.og) { y[base + 0u * ohw] = a[0].x; }
    if (ob + 1u < p.og) { y[base + 1u * ohw] = a[0].y; }
    if (ob + 2u < p.og) { y[base + 2u * ohw] = a[0].z; }
    if (ob + 3u < p.og) { y[base + 3u * ohw] = a[0].w; }
    if (ob + 4u < p.og) { y[base + 4u * ohw] = a[1].x; }
    if (ob + 5u < p.og) { y[base + 5u * ohw] = a[1].y; }
    if (ob + 6u < p.og) { y[base + 6u * ohw] = a[1].z; }
    if (ob + 7u < p.og) { y[base + 7u * ohw] = a[1].w; }
    if (ob + 8u < p.og) { y[base + 8u * ohw] = a[2].x; }
    if (ob + 9u < p.og) { y[base + 9u * ohw] = a[2].y; }
    if (ob + 10u < p.og) { y[base + 10u * ohw] = a[2].z; }
    if (ob + 11u < p.og) { y[base + 11u * ohw] = a[2].w; }
    if (ob + 12u < p.og) { y[base + 12u * ohw] = a[3].x; }
    if (ob + 13u < p.og) { y[base + 13u * ohw] = a[3].y; }
    if (ob + 14u < p.og) { y[base + 14u * ohw] = a[3].z; }
    if (ob + 15u < p.og) { y[base + 15u * ohw] = a[3].w; }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sg_lane: u32) {
    // No early return: every lane takes part in the broadcasts.
    let tiles = p.og_pad / (32u * H);
    let g = wid.z / tiles;
    let ct = wid.z % tiles;
    let m0 = ((wid.x + wid.y * nwg.x) * WG + lid) * P;
    let last = p.total - 1u;
    let og4 = p.og_pad / 4u;
    let taps = p.kh * p.kw;
    let lane = ct * 8u * H + sg_lane % 8u;
    let v0 = window(min(m0 + 0u, last), g);
    let v1 = window(min(m0 + 1u, last), g);
    let v2 = window(min(m0 + 2u, last), g);
    let v3 = window(min(m0 + 3u, last), g);
    let v4 = window(min(m0 + 4u, last), g);
    let v5 = window(min(m0 + 5u, last), g);
    let v6 = window(min(m0 + 6u, last), g);
    let v7 = window(min(m0 + 7u, last), g);
    let v8 = window(min(m0 + 8u, last), g);
    let v9 = window(min(m0 + 9u, last), g);
    let v10 = window(min(m0 + 10u, last), g);
    let v11 = window(min(m0 + 11u, last), g);
    let v12 = window(min(m0 + 12u, last), g);
    let v13 = window(min(m0 + 13u, last), g);
    let v14 = window(min(m0 + 14u, last), g);
    let v15 = window(min(m0 + 15u, last), g);

    // Start from the bias rows.
    let brow = (p.groups * taps * p.cg_pad + g) * og4 + lane;
    let ba = wp[brow];
    var bb = vec4<f32>(0.0);
    if (H == 2u) {
        bb = wp[brow + 8u];
    }
    let bias0 = mat4x4<f32>(subgroupBroadcast(ba, 0u), subgroupBroadcast(ba, 1u),
                subgroupBroadcast(ba, 2u), subgroupBroadcast(ba, 3u));
    let bias1 = mat4x4<f32>(subgroupBroadcast(ba, 4u), subgroupBroadcast(ba, 5u),
                subgroupBroadcast(ba, 6u), subgroupBroadcast(ba, 7u));
    let bias2 = mat4x4<f32>(subgroupBroadcast(bb, 0u), subgroupBroadcast(bb, 1u),
                subgroupBroadcast(bb, 2u), subgroupBroadcast(bb, 3u));
    let bias3 = mat4x4<f32>(subgroupBroadcast(bb, 4u), subgroupBroadcast(bb, 5u),
                subgroupBroadcast(bb, 6u), subgroupBroadcast(bb, 7u));
    var a00 = bias0;
    var a01 = bias1;
    var a02 = bias2;
    var a03 = bias3;
    var a10 = bias0;
    var a11 = bias1;
    var a12 = bias2;
    var a13 = bias3;
    var a20 = bias0;
    var a21 = bias1;
    var a22 = bias2;
    var a23 = bias3;
    var a30 = bias0;
    var a31 = bias1;
    var a32 = bias2;
    var a33 = bias3;
    var a40 = bias0;
    var a41 = bias1;
    var a42 = bias2;
    var a43 = bias3;
    var a50 = bias0;
    var a51 = bias1;
    var a52 = bias2;
    var a53 = bias3;
    var a60 = bias0;
    var a61 = bias1;
    var a62 = bias2;
    var a63 = bias3;
    var a70 = bias0;
    var a71 = bias1;
    var a72 = bias2;
    var a73 = bias3;
    var a80 = bias0;
    var a81 = bias1;
    var a90 = bias0;
    var a91 = bias1;
    var a100 = bias0;
    var a101 = bias1;
    var a110 = bias0;
    var a111 = bias1;
    var a120 = bias0;
    var a121 = bias1;
    var a130 = bias0;
    var a131 = bias1;
    var a140 = bias0;
    var a141 = bias1;
    var a150 = bias0;
    var a151 = bias1;

    for (var kh = 0u; kh < p.kh; kh++) {
        for (var kw = 0u; kw < p.kw; kw++) {
            let t0 = tap(v0, kh, kw);
            let t1 = tap(v1, kh, kw);
            let t2 = tap(v2, kh, kw);
            let t3 = tap(v3, kh, kw);
            let t4 = tap(v4, kh, kw);
            let t5 = tap(v5, kh, kw);
            let t6 = tap(v6, kh, kw);
            let t7 = tap(v7, kh, kw);
            let t8 = tap(v8, kh, kw);
            let t9 = tap(v9, kh, kw);
            let t10 = tap(v10, kh, kw);
            let t11 = tap(v11, kh, kw);
            let t12 = tap(v12, kh, kw);
            let t13 = tap(v13, kh, kw);
            let t14 = tap(v14, kh, kw);
            let t15 = tap(v15, kh, kw);
            var row = ((g * taps + kh * p.kw + kw) * p.cg_pad) * og4 + lane;
            for (var c = 0u; c < p.cg; c += 2u) {
                // This lane's weights: input channels c .. c + 1, its 4 output
                // channels of each half tile.
                let q0 = wp[row + 0u * og4];
                let q1 = wp[row + 1u * og4];
                var r0 = vec4<f32>(0.0);
                var r1 = vec4<f32>(0.0);
                if (H == 2u) {
                    r0 = wp[row + 0u * og4 + 8u];
                    r1 = wp[row + 1u * og4 + 8u];
                }
                // Every lane's weights in blocks of 16 output channels: w{block}{input}.
                let w00 = mat4x4<f32>(subgroupBroadcast(q0, 0u), subgroupBroadcast(q0, 1u),
                                subgroupBroadcast(q0, 2u), subgroupBroadcast(q0, 3u));
                let w01 = mat4x4<f32>(subgroupBroadcast(q1, 0u), subgroupBroadcast(q1, 1u),
                                subgroupBroadcast(q1, 2u), subgroupBroadcast(q1, 3u));
                let w10 = mat4x4<f32>(subgroupBroadcast(q0, 4u), subgroupBroadcast(q0, 5u),
                                subgroupBroadcast(q0, 6u), subgroupBroadcast(q0, 7u));
                let w11 = mat4x4<f32>(subgroupBroadcast(q1, 4u), subgroupBroadcast(q1, 5u),
                                subgroupBroadcast(q1, 6u), subgroupBroadcast(q1, 7u));
                let w20 = mat4x4<f32>(subgroupBroadcast(r0, 0u), subgroupBroadcast(r0, 1u),
                                subgroupBroadcast(r0, 2u), subgroupBroadcast(r0, 3u));
                let w21 = mat4x4<f32>(subgroupBroadcast(r1, 0u), subgroupBroadcast(r1, 1u),
                                subgroupBroadcast(r1, 2u), subgroupBroadcast(r1, 3u));
                let w30 = mat4x4<f32>(subgroupBroadcast(r0, 4u), subgroupBroadcast(r0, 5u),
                                subgroupBroadcast(r0, 6u), subgroupBroadcast(r0, 7u));
                let w31 = mat4x4<f32>(subgroupBroadcast(r1, 4u), subgroupBroadcast(r1, 5u),
                                subgroupBroadcast(r1, 6u), subgroupBroadcast(r1, 7u));
                row += 2u * og4;
                let x0 = inputs(t0, c);
                a00 += x0.x * w00 + x0.y * w01;
                a01 += x0.x * w10 + x0.y * w11;
                a02 += x0.x * w20 + x0.y * w21;
                a03 += x0.x * w30 + x0.y * w31;
                let x1 = inputs(t1, c);
                a10 += x1.x * w00 + x1.y * w01;
                a11 += x1.x * w10 + x1.y * w11;
                a12 += x1.x * w20 + x1.y * w21;
                a13 += x1.x * w30 + x1.y * w31;
                let x2 = inputs(t2, c);
                a20 += x2.x * w00 + x2.y * w01;
                a21 += x2.x * w10 + x2.y * w11;
                a22 += x2.x * w20 + x2.y * w21;
                a23 += x2.x * w30 + x2.y * w31;
                let x3 = inputs(t3, c);
                a30 += x3.x * w00 + x3.y * w01;
                a31 += x3.x * w10 + x3.y * w11;
                a32 += x3.x * w20 + x3.y * w21;
                a33 += x3.x * w30 + x3.y * w31;
                let x4 = inputs(t4, c);
                a40 += x4.x * w00 + x4.y * w01;
                a41 += x4.x * w10 + x4.y * w11;
                a42 += x4.x * w20 + x4.y * w21;
                a43 += x4.x * w30 + x4.y * w31;
                let x5 = inputs(t5, c);
                a50 += x5.x * w00 + x5.y * w01;
                a51 += x5.x * w10 + x5.y * w11;
                a52 += x5.x * w20 + x5.y * w21;
                a53 += x5.x * w30 + x5.y * w31;
                let x6 = inputs(t6, c);
                a60 += x6.x * w00 + x6.y * w01;
                a61 += x6.x * w10 + x6.y * w11;
                a62 += x6.x * w20 + x6.y * w21;
                a63 += x6.x * w30 + x6.y * w31;
                let x7 = inputs(t7, c);
                a70 += x7.x * w00 + x7.y * w01;
                a71 += x7.x * w10 + x7.y * w11;
                a72 += x7.x * w20 + x7.y * w21;
                a73 += x7.x * w30 + x7.y * w31;
                if (P == 16u) {
                    let x8 = inputs(t8, c);
                    a80 += x8.x * w00 + x8.y * w01;
                    a81 += x8.x * w10 + x8.y * w11;
                    let x9 = inputs(t9, c);
                    a90 += x9.x * w00 + x9.y * w01;
                    a91 += x9.x * w10 + x9.y * w11;
                    let x10 = inputs(t10, c);
                    a100 += x10.x * w00 + x10.y * w01;
                    a101 += x10.x * w10 + x10.y * w11;
                    let x11 = inputs(t11, c);
                    a110 += x11.x * w00 + x11.y * w01;
                    a111 += x11.x * w10 + x11.y * w11;
                    let x12 = inputs(t12, c);
                    a120 += x12.x * w00 + x12.y * w01;
                    a121 += x12.x * w10 + x12.y * w11;
                    let x13 = inputs(t13, c);
                    a130 += x13.x * w00 + x13.y * w01;
                    a131 += x13.x * w10 + x13.y * w11;
                    let x14 = inputs(t14, c);
                    a140 += x14.x * w00 + x14.y * w01;
                    a141 += x14.x * w10 + x14.y * w11;
                    let x15 = inputs(t15, c);
                    a150 += x15.x * w00 + x15.y * w01;
                    a151 += x15.x * w10 + x15.y * w11;
                }
            }
        }
    }

    let ob = ct * 32u * H;
    store_block(m0 + 0u, g, ob, a00);
    store_block(m0 + 0u, g, ob + 16u, a01);
    store_block(m0 + 1u, g, ob, a10);
    store_block(m0 + 1u, g, ob + 16u, a11);
    store_block(m0 + 2u, g, ob, a20);
    store_block(m0 + 2u, g, ob + 16u, a21);
    store_block(m0 + 3u, g, ob, a30);
    store_block(m0 + 3u, g, ob + 16u, a31);
    store_block(m0 + 4u, g, ob, a40);
    store_block(m0 + 4u, g, ob + 16u, a41);
    store_block(m0 + 5u, g, ob, a50);
    store_block(m0 + 5u, g, ob + 16u, a51);
    store_block(m0 + 6u, g, ob, a60);
    store_block(m0 + 6u, g, ob + 16u, a61);
    store_block(m0 + 7u, g, ob, a70);
    store_block(m0 + 7u, g, ob + 16u, a71);
    if (H == 2u) {
        store_block(m0 + 0u, g, ob + 32u, a02);
        store_block(m0 + 0u, g, ob + 48u, a03);
        store_block(m0 + 1u, g, ob + 32u, a12);
        store_block(m0 + 1u, g, ob + 48u, a13);
        store_block(m0 + 2u, g, ob + 32u, a22);
        store_block(m0 + 2u, g, ob + 48u, a23);
        store_block(m0 + 3u, g, ob + 32u, a32);
        store_block(m0 + 3u, g, ob + 48u, a33);
        store_block(m0 + 4u, g, ob + 32u, a42);
        store_block(m0 + 4u, g, ob + 48u, a43);
        store_block(m0 + 5u, g, ob + 32u, a52);
        store_block(m0 + 5u, g, ob + 48u, a53);
        store_block(m0 + 6u, g, ob + 32u, a62);
        store_block(m0 + 6u, g, ob + 48u, a63);
        store_block(m0 + 7u, g, ob + 32u, a72);
        store_block(m0 + 7u, g, ob + 48u, a73);
    }
    if (P == 16u) {
        store_block(m0 + 8u, g, ob, a80);
        store_block(m0 + 8u, g, ob + 16u, a81);
        store_block(m0 + 9u, g, ob, a90);
        store_block(m0 + 9u, g, ob + 16u, a91);
        store_block(m0 + 10u, g, ob, a100);
        store_block(m0 + 10u, g, ob + 16u, a101);
        store_block(m0 + 11u, g, ob, a110);
        store_block(m0 + 11u, g, ob + 16u, a111);
        store_block(m0 + 12u, g, ob, a120);
        store_block(m0 + 12u, g, ob + 16u, a121);
        store_block(m0 + 13u, g, ob, a130);
        store_block(m0 + 13u, g, ob + 16u, a131);
        store_block(m0 + 14u, g, ob, a140);
        store_block(m0 + 14u, g, ob + 16u, a141);
        store_block(m0 + 15u, g, ob, a150);
        store_block(m0 + 15u, g, ob + 16u, a151);
    }
}
