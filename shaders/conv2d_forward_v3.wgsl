// conv2d_forward_v3: implicit GEMM tiled through workgroup memory (the real-GPU style).
//
// bindings
//   0 uniform Params (see ops/conv2d/geometry.rs): sizes, stride, padding, dilation, groups;
//     total = N*OH*OW (output pixels), og_pad = Og rounded up to 64, cg_pad = Cg
//     rounded up to 4
//   1 storage read       x: array<f32>, [N, C, H, W]
//   2 storage read       wp: array<f32>, the weights packed by conv2d_pack_v1 (MODE 0):
//     [G, KH*KW, cg_pad, og_pad] (output channels fastest, zero padded), then the bias
//     rows [G, og_pad]
//   3 storage read_write y: array<f32>, [N, O, OH, OW]
// The GEMM of one group: rows = output pixels, columns = output channels, reduction
// over k = tap * cg_pad + input channel (the packed weight's row). A workgroup of
// 16 x 16 invocations computes a 64-pixel x 64-channel tile, 4 x 4 per invocation; per
// step of 16 k it stages the 64 x 16 input patch values (implicit im2col) and the 16 x 64
// weights in workgroup memory (8 KiB), then every invocation runs 16 rank-1 updates from
// it. Grid: (x, y) over pixel tiles, z over (group, channel tile). Loop trip count per
// invocation: about 21 * KH*KW*cg_pad / 16 (the caller keeps Cg*KH*KW <= 32,768, so under
// the 65,535 cap).
// WG 256 (fixed 16 x 16: the tile shape).

struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, kh: u32, kw: u32, groups: u32,
    oh: u32, ow: u32, cg: u32, og: u32,
    sh: u32, sw: u32, ph: u32, pw: u32,
    dh: u32, dw: u32, total: u32, chunk: u32,
    n_chunks: u32, rh: u32, rw: u32, cls_h: u32,
    cls_w: u32, og_pad: u32, cg_pad: u32, _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// a_tile[k][pixel], b_tile[k][channel] for one step of 16 k.
var<workgroup> a_tile: array<array<f32, 64>, 16>;
var<workgroup> b_tile: array<array<f32, 64>, 16>;

// Input of pixel m (already clamped to the last one) at packed row k of group g.
fn im2col(m: u32, k: u32, g: u32) -> f32 {
    let t = k / p.cg_pad;
    let ci = k % p.cg_pad;
    let ohw = p.oh * p.ow;
    let r = m % ohw;
    let ih = i32(r / p.ow * p.sh + t / p.kw * p.dh) - i32(p.ph);
    let iw = i32(r % p.ow * p.sw + t % p.kw * p.dw) - i32(p.pw);
    let ok = ci < p.cg && ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w);
    let off = ((m / ohw * p.c + g * p.cg + ci) * p.h + u32(ih)) * p.w + u32(iw);
    return select(0.0, x[select(0u, off, ok)], ok);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    // No early return: every invocation takes part in the barriers.
    let tiles = p.og_pad / 64u;
    let g = wid.z / tiles;
    let col0 = (wid.z % tiles) * 64u;
    let m_base = (wid.x + wid.y * nwg.x) * 64u;
    let kk = p.kh * p.kw * p.cg_pad;
    let last = p.total - 1u;
    // This invocation's 4 pixels (rows tx*4 ..) and 4 channels (columns ty*4 ..).
    let tx = lid3.x;
    let ty = lid3.y;

    // Start from the bias row.
    let brow = (p.groups * kk + g) * p.og_pad + col0 + ty * 4u;
    var acc: array<vec4<f32>, 4>;
    let b = vec4<f32>(wp[brow], wp[brow + 1u], wp[brow + 2u], wp[brow + 3u]);
    acc[0] = b;
    acc[1] = b;
    acc[2] = b;
    acc[3] = b;

    // Staging roles: a_tile rows (k) lid / 64 * 4 .. +3, pixel lid % 64;
    // b_tile row lid / 16, channels (lid % 16) * 4 .. +3.
    let am = min(m_base + lid % 64u, last);
    let ak = lid / 64u * 4u;
    let bk = lid / 16u;
    let bc = (lid % 16u) * 4u;
    let wrow0 = g * kk;
    for (var k0 = 0u; k0 < kk; k0 += 16u) {
        for (var i = 0u; i < 4u; i++) {
            let k = k0 + ak + i;
            a_tile[ak + i][lid % 64u] = select(0.0, im2col(am, min(k, kk - 1u), g), k < kk);
        }
        let k = k0 + bk;
        let wo = (wrow0 + min(k, kk - 1u)) * p.og_pad + col0 + bc;
        let kv = k < kk;
        b_tile[bk][bc] = select(0.0, wp[wo], kv);
        b_tile[bk][bc + 1u] = select(0.0, wp[wo + 1u], kv);
        b_tile[bk][bc + 2u] = select(0.0, wp[wo + 2u], kv);
        b_tile[bk][bc + 3u] = select(0.0, wp[wo + 3u], kv);
        workgroupBarrier();
        for (var j = 0u; j < 16u; j++) {
            let bv = vec4<f32>(b_tile[j][ty * 4u], b_tile[j][ty * 4u + 1u], b_tile[j][ty * 4u + 2u],
                               b_tile[j][ty * 4u + 3u]);
            acc[0] += a_tile[j][tx * 4u] * bv;
            acc[1] += a_tile[j][tx * 4u + 1u] * bv;
            acc[2] += a_tile[j][tx * 4u + 2u] * bv;
            acc[3] += a_tile[j][tx * 4u + 3u] * bv;
        }
        workgroupBarrier();
    }

    let ohw = p.oh * p.ow;
    for (var i = 0u; i < 4u; i++) {
        let m = m_base + tx * 4u + i;
        if (m >= p.total) {
            continue;
        }
        let base = (m / ohw * p.o + g * p.og) * ohw + m % ohw;
        for (var c = 0u; c < 4u; c++) {
            let o = col0 + ty * 4u + c;
            if (o < p.og) {
                y[base + o * ohw] = acc[i][c];
            }
        }
    }
}
