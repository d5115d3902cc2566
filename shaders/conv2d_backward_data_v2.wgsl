// conv2d_backward_data_v2: dx as a register-blocked implicit GEMM over dy, without
// subgroups (the style of conv2d_forward_v2).
//
// bindings
//   0 uniform Params (see ops/conv2d/geometry.rs): sizes, stride, padding, dilation, groups;
//     (rh, rw) = the residue class (ih % sh, iw % sw) of this launch, cls_h x cls_w its
//     rows and columns, total = N * cls_h * cls_w (its input pixels); cg_pad = Cg
//     rounded up to the channel tile (32 * H), og_pad = Og rounded up to 4; the taps of
//     the class: chunk = kh0 | kw0 << 16 (the first), n_chunks = kh_step | kw_step << 16
//   1 storage read       dy: array<f32>, [N, O, OH, OW]
//   2 storage read       wp: array<vec4<f32>>, the weights packed by conv2d_pack_v1
//     (MODE 1): [G, KH*KW, og_pad, cg_pad] (input channels fastest, zero padded)
//   3 storage read_write dx: array<f32>, [N, C, H, W]
// Input pixel (ih, iw) receives dy[oh, ow] * w[kh, kw] where oh * sh = ih + ph - kh * dh
// (likewise for the width): within one residue class the same taps contribute to every
// pixel, so each class is a dense GEMM over (valid taps, output channels of the group)
// and the host launches one per class. One invocation computes P consecutive pixels of
// the class (flattened over n, i, j with ih = rh + i * sh, iw = rw + j * sw) times a tile
// of 32 * H input channels of one group; grid: (x, y) over pixel blocks of WG * P, z over
// (group, channel tile). Per valid tap and step of 2 output channels, it loads its
// P x 2 values of dy and the 2 x 32 * H weights (mat4x4 blocks of 16 channels, a vec4
// load per column); no subgroups (llvmpipe GL, any adapter). The code is unrolled by hand
// (llvmpipe keeps loops as they are). Loop trip count per invocation: KH*KW*(1 + og_pad/2)
// (the caller keeps Og*KH*KW under the 65,535 cap).
// WG 64. Overrides: H (tile 32 * H, 1 or 2),
// P (pixels per invocation: 8, or 16 when H = 1).

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
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// One input pixel of the class: offset of its dy image's first channel of the group,
// and its row and column i, j within the class.
struct Pixel {
    base: u32,
    i: i32,
    j: i32,
}

fn pixel(m: u32, g: u32) -> Pixel {
    let cls = p.cls_h * p.cls_w;
    let r = m % cls;
    return Pixel((m / cls * p.o + g * p.og) * p.oh * p.ow, i32(r / p.cls_w), i32(r % p.cls_w));
}

// Offset in dy (output channel 0 of the group) that tap (kh, kw) reads for a pixel,
// given the tap's row and column shifts (ih + ph - kh * dh) / sh - i and likewise for
// the width; 0xffffffff outside dy.
fn tap(v: Pixel, dr: i32, dc: i32) -> u32 {
    let oh = v.i + dr;
    let ow = v.j + dc;
    let ok = oh >= 0 && oh < i32(p.oh) && ow >= 0 && ow < i32(p.ow);
    return select(0xffffffffu, v.base + u32(oh) * p.ow + u32(ow), ok);
}

// dy of output channels o and o + 1 at a tap offset (0 outside dy and past Og).
fn grads(off: u32, o: u32) -> vec2<f32> {
    let ohw = p.oh * p.ow;
    let ok = off != 0xffffffffu;
    let q = select(0u, off, ok);
    let v1 = ok && o + 1u < p.og;
    return vec2<f32>(select(0.0, dy[q + o * ohw], ok),
                     select(0.0, dy[select(0u, q + (o + 1u) * ohw, v1)], v1));
}

// Stores block `a` of class pixel m: input channels cb .. cb + 15 of group g (those
// below Cg).
fn store_block(m: u32, g: u32, cb: u32, a: mat4x4<f32>) {
    if (m >= p.total) {
        return;
    }
    let cls = p.cls_h * p.cls_w;
    let r = m % cls;
    let hw = p.h * p.w;
    let ih = p.rh + r / p.cls_w * p.sh;
    let iw = p.rw + r % p.cls_w * p.sw;
    let base = (m / cls * p.c + g * p.cg + cb) * hw + ih * p.w + iw;
    if (cb + 0u < p.cg) { dx[base + 0u * hw] = a[0].x; }
    if (cb + 1u < p.cg) { dx[base + 1u * hw] = a[0].y; }
    if (cb + 2u < p.cg) { dx[base + 2u * hw] = a[0].z; }
    if (cb + 3u < p.cg) { dx[base + 3u * hw] = a[0].w; }
    if (cb + 4u < p.cg) { dx[base + 4u * hw] = a[1].x; }
    if (cb + 5u < p.cg) { dx[base + 5u * hw] = a[1].y; }
    if (cb + 6u < p.cg) { dx[base + 6u * hw] = a[1].z; }
    if (cb + 7u < p.cg) { dx[base + 7u * hw] = a[1].w; }
    if (cb + 8u < p.cg) { dx[base + 8u * hw] = a[2].x; }
    if (cb + 9u < p.cg) { dx[base + 9u * hw] = a[2].y; }
    if (cb + 10u < p.cg) { dx[base + 10u * hw] = a[2].z; }
    if (cb + 11u < p.cg) { dx[base + 11u * hw] = a[2].w; }
    if (cb + 12u < p.cg) { dx[base + 12u * hw] = a[3].x; }
    if (cb + 13u < p.cg) { dx[base + 13u * hw] = a[3].y; }
    if (cb + 14u < p.cg) { dx[base + 14u * hw] = a[3].z; }
    if (cb + 15u < p.cg) { dx[base + 15u * hw] = a[3].w; }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let tiles = p.cg_pad / (32u * H);
    let g = wid.z / tiles;
    let ct = wid.z % tiles;
    let m0 = ((wid.x + wid.y * nwg.x) * WG + lid) * P;
    let last = p.total - 1u;
    let cg4 = p.cg_pad / 4u;
    let taps = p.kh * p.kw;
    let lane = ct * 8u * H;
    let v0 = pixel(min(m0 + 0u, last), g);
    let v1 = pixel(min(m0 + 1u, last), g);
    let v2 = pixel(min(m0 + 2u, last), g);
    let v3 = pixel(min(m0 + 3u, last), g);
    let v4 = pixel(min(m0 + 4u, last), g);
    let v5 = pixel(min(m0 + 5u, last), g);
    let v6 = pixel(min(m0 + 6u, last), g);
    let v7 = pixel(min(m0 + 7u, last), g);
    let v8 = pixel(min(m0 + 8u, last), g);
    let v9 = pixel(min(m0 + 9u, last), g);
    let v10 = pixel(min(m0 + 10u, last), g);
    let v11 = pixel(min(m0 + 11u, last), g);
    let v12 = pixel(min(m0 + 12u, last), g);
    let v13 = pixel(min(m0 + 13u, last), g);
    let v14 = pixel(min(m0 + 14u, last), g);
    let v15 = pixel(min(m0 + 15u, last), g);
    var a00 = mat4x4<f32>();
    var a01 = mat4x4<f32>();
    var a02 = mat4x4<f32>();
    var a03 = mat4x4<f32>();
    var a10 = mat4x4<f32>();
    var a11 = mat4x4<f32>();
    var a12 = mat4x4<f32>();
    var a13 = mat4x4<f32>();
    var a20 = mat4x4<f32>();
    var a21 = mat4x4<f32>();
    var a22 = mat4x4<f32>();
    var a23 = mat4x4<f32>();
    var a30 = mat4x4<f32>();
    var a31 = mat4x4<f32>();
    var a32 = mat4x4<f32>();
    var a33 = mat4x4<f32>();
    var a40 = mat4x4<f32>();
    var a41 = mat4x4<f32>();
    var a42 = mat4x4<f32>();
    var a43 = mat4x4<f32>();
    var a50 = mat4x4<f32>();
    var a51 = mat4x4<f32>();
    var a52 = mat4x4<f32>();
    var a53 = mat4x4<f32>();
    var a60 = mat4x4<f32>();
    var a61 = mat4x4<f32>();
    var a62 = mat4x4<f32>();
    var a63 = mat4x4<f32>();
    var a70 = mat4x4<f32>();
    var a71 = mat4x4<f32>();
    var a72 = mat4x4<f32>();
    var a73 = mat4x4<f32>();
    var a80 = mat4x4<f32>();
    var a81 = mat4x4<f32>();
    var a90 = mat4x4<f32>();
    var a91 = mat4x4<f32>();
    var a100 = mat4x4<f32>();
    var a101 = mat4x4<f32>();
    var a110 = mat4x4<f32>();
    var a111 = mat4x4<f32>();
    var a120 = mat4x4<f32>();
    var a121 = mat4x4<f32>();
    var a130 = mat4x4<f32>();
    var a131 = mat4x4<f32>();
    var a140 = mat4x4<f32>();
    var a141 = mat4x4<f32>();
    var a150 = mat4x4<f32>();
    var a151 = mat4x4<f32>();

    // The taps of the class: kh = kh0, kh0 + kh_step, ... (host-computed: those with
    // kh * dh = rh + ph mod sh), likewise kw; oh = i + (rh + ph - kh * dh) / sh, exact.
    // The numerator is offset by a multiple of sh (sh * bh > (KH - 1) * dh) to stay
    // non-negative: % and / of negative integers differ between backends.
    let bh = ((p.kh - 1u) * p.dh) / p.sh + 1u;
    let bw = ((p.kw - 1u) * p.dw) / p.sw + 1u;
    for (var kh = p.chunk & 0xffffu; kh < p.kh; kh += p.n_chunks & 0xffffu) {
        let dr = i32((p.rh + p.ph + p.sh * bh - kh * p.dh) / p.sh) - i32(bh);
        for (var kw = p.chunk >> 16u; kw < p.kw; kw += p.n_chunks >> 16u) {
            let dc = i32((p.rw + p.pw + p.sw * bw - kw * p.dw) / p.sw) - i32(bw);
            let t0 = tap(v0, dr, dc);
            let t1 = tap(v1, dr, dc);
            let t2 = tap(v2, dr, dc);
            let t3 = tap(v3, dr, dc);
            let t4 = tap(v4, dr, dc);
            let t5 = tap(v5, dr, dc);
            let t6 = tap(v6, dr, dc);
            let t7 = tap(v7, dr, dc);
            let t8 = tap(v8, dr, dc);
            let t9 = tap(v9, dr, dc);
            let t10 = tap(v10, dr, dc);
            let t11 = tap(v11, dr, dc);
            let t12 = tap(v12, dr, dc);
            let t13 = tap(v13, dr, dc);
            let t14 = tap(v14, dr, dc);
            let t15 = tap(v15, dr, dc);
            var row = ((g * taps + kh * p.kw + kw) * p.og_pad) * cg4 + lane;
            for (var o = 0u; o < p.og; o += 2u) {
                // The weights in blocks of 16 input channels: w{block}{output}.
                let w00 = mat4x4<f32>(wp[row], wp[row + 1u],
                    wp[row + 2u], wp[row + 3u]);
                let w01 = mat4x4<f32>(wp[row + cg4], wp[row + cg4 + 1u],
                    wp[row + cg4 + 2u], wp[row + cg4 + 3u]);
                let w10 = mat4x4<f32>(wp[row + 4u], wp[row + 5u],
                    wp[row + 6u], wp[row + 7u]);
                let w11 = mat4x4<f32>(wp[row + cg4 + 4u], wp[row + cg4 + 5u],
                    wp[row + cg4 + 6u], wp[row + cg4 + 7u]);
                var w20 = mat4x4<f32>();
                var w21 = mat4x4<f32>();
                var w30 = mat4x4<f32>();
                var w31 = mat4x4<f32>();
                if (H == 2u) {
                    w20 = mat4x4<f32>(wp[row + 8u], wp[row + 9u],
                        wp[row + 10u], wp[row + 11u]);
                    w21 = mat4x4<f32>(wp[row + cg4 + 8u], wp[row + cg4 + 9u],
                        wp[row + cg4 + 10u], wp[row + cg4 + 11u]);
                    w30 = mat4x4<f32>(wp[row + 12u], wp[row + 13u],
                        wp[row + 14u], wp[row + 15u]);
                    w31 = mat4x4<f32>(wp[row + cg4 + 12u], wp[row + cg4 + 13u],
                        wp[row + cg4 + 14u], wp[row + cg4 + 15u]);
                }
                row += 2u * cg4;
                let x0 = grads(t0, o);
                a00 += x0.x * w00 + x0.y * w01;
                a01 += x0.x * w10 + x0.y * w11;
                a02 += x0.x * w20 + x0.y * w21;
                a03 += x0.x * w30 + x0.y * w31;
                let x1 = grads(t1, o);
                a10 += x1.x * w00 + x1.y * w01;
                a11 += x1.x * w10 + x1.y * w11;
                a12 += x1.x * w20 + x1.y * w21;
                a13 += x1.x * w30 + x1.y * w31;
                let x2 = grads(t2, o);
                a20 += x2.x * w00 + x2.y * w01;
                a21 += x2.x * w10 + x2.y * w11;
                a22 += x2.x * w20 + x2.y * w21;
                a23 += x2.x * w30 + x2.y * w31;
                let x3 = grads(t3, o);
                a30 += x3.x * w00 + x3.y * w01;
                a31 += x3.x * w10 + x3.y * w11;
                a32 += x3.x * w20 + x3.y * w21;
                a33 += x3.x * w30 + x3.y * w31;
                let x4 = grads(t4, o);
                a40 += x4.x * w00 + x4.y * w01;
                a41 += x4.x * w10 + x4.y * w11;
                a42 += x4.x * w20 + x4.y * w21;
                a43 += x4.x * w30 + x4.y * w31;
                let x5 = grads(t5, o);
                a50 += x5.x * w00 + x5.y * w01;
                a51 += x5.x * w10 + x5.y * w11;
                a52 += x5.x * w20 + x5.y * w21;
                a53 += x5.x * w30 + x5.y * w31;
                let x6 = grads(t6, o);
                a60 += x6.x * w00 + x6.y * w01;
                a61 += x6.x * w10 + x6.y * w11;
                a62 += x6.x * w20 + x6.y * w21;
                a63 += x6.x * w30 + x6.y * w31;
                let x7 = grads(t7, o);
                a70 += x7.x * w00 + x7.y * w01;
                a71 += x7.x * w10 + x7.y * w11;
                a72 += x7.x * w20 + x7.y * w21;
                a73 += x7.x * w30 + x7.y * w31;
                if (P == 16u) {
                    let x8 = grads(t8, o);
                    a80 += x8.x * w00 + x8.y * w01;
                    a81 += x8.x * w10 + x8.y * w11;
                    let x9 = grads(t9, o);
                    a90 += x9.x * w00 + x9.y * w01;
                    a91 += x9.x * w10 + x9.y * w11;
                    let x10 = grads(t10, o);
                    a100 += x10.x * w00 + x10.y * w01;
                    a101 += x10.x * w10 + x10.y * w11;
                    let x11 = grads(t11, o);
                    a110 += x11.x * w00 + x11.y * w01;
                    a111 += x11.x * w10 + x11.y * w11;
                    let x12 = grads(t12, o);
                    a120 += x12.x * w00 + x12.y * w01;
                    a121 += x12.x * w10 + x12.y * w11;
                    let x13 = grads(t13, o);
                    a130 += x13.x * w00 + x13.y * w01;
                    a131 += x13.x * w10 + x13.y * w11;
                    let x14 = grads(t14, o);
                    a140 += x14.x * w00 + x14.y * w01;
                    a141 += x14.x * w10 + x14.y * w11;
                    let x15 = grads(t15, o);
                    a150 += x15.x * w00 + x15.y * w01;
                    a151 += x15.x * w10 + x15.y * w11;
                }
            }
        }
    }

    let cb = ct * 32u * H;
    store_block(m0 + 0u, g, cb, a00);
    store_block(m0 + 0u, g, cb + 16u, a01);
    store_block(m0 + 1u, g, cb, a10);
    store_block(m0 + 1u, g, cb + 16u, a11);
    store_block(m0 + 2u, g, cb, a20);
    store_block(m0 + 2u, g, cb + 16u, a21);
    store_block(m0 + 3u, g, cb, a30);
    store_block(m0 + 3u, g, cb + 16u, a31);
    store_block(m0 + 4u, g, cb, a40);
    store_block(m0 + 4u, g, cb + 16u, a41);
    store_block(m0 + 5u, g, cb, a50);
    store_block(m0 + 5u, g, cb + 16u, a51);
    store_block(m0 + 6u, g, cb, a60);
    store_block(m0 + 6u, g, cb + 16u, a61);
    store_block(m0 + 7u, g, cb, a70);
    store_block(m0 + 7u, g, cb + 16u, a71);
    if (H == 2u) {
        store_block(m0 + 0u, g, cb + 32u, a02);
        store_block(m0 + 0u, g, cb + 48u, a03);
        store_block(m0 + 1u, g, cb + 32u, a12);
        store_block(m0 + 1u, g, cb + 48u, a13);
        store_block(m0 + 2u, g, cb + 32u, a22);
        store_block(m0 + 2u, g, cb + 48u, a23);
        store_block(m0 + 3u, g, cb + 32u, a32);
        store_block(m0 + 3u, g, cb + 48u, a33);
        store_block(m0 + 4u, g, cb + 32u, a42);
        store_block(m0 + 4u, g, cb + 48u, a43);
        store_block(m0 + 5u, g, cb + 32u, a52);
        store_block(m0 + 5u, g, cb + 48u, a53);
        store_block(m0 + 6u, g, cb + 32u, a62);
        store_block(m0 + 6u, g, cb + 48u, a63);
        store_block(m0 + 7u, g, cb + 32u, a72);
        store_block(m0 + 7u, g, cb + 48u, a73);
    }
    if (P == 16u) {
        store_block(m0 + 8u, g, cb, a80);
        store_block(m0 + 8u, g, cb + 16u, a81);
        store_block(m0 + 9u, g, cb, a90);
        store_block(m0 + 9u, g, cb + 16u, a91);
        store_block(m0 + 10u, g, cb, a100);
        store_block(m0 + 10u, g, cb + 16u, a101);
        store_block(m0 + 11u, g, cb, a110);
        store_block(m0 + 11u, g, cb + 16u, a111);
        store_block(m0 + 12u, g, cb, a120);
        store_block(m0 + 12u, g, cb + 16u, a121);
        store_block(m0 + 13u, g, cb, a130);
        store_block(m0 + 13u, g, cb + 16u, a131);
        store_block(m0 + 14u, g, cb, a140);
        store_block(m0 + 14u, g, cb + 16u, a141);
        store_block(m0 + 15u, g, cb, a150);
        store_block(m0 + 15u, g, cb + 16u, a151);
    }
}
