// conv2d_pack_v1: repacks the weight for the implicit-GEMM kernels, so that their
// lanes load 4 consecutive output channels of one (tap, input channel) row as a vec4.
//
// bindings
//   0 uniform Params (see ops/conv2d/geometry.rs): sizes and groups; og_pad and cg_pad are the
//     padded channel counts of the packed rows and columns; total = elements of out
//   1 storage read       w: array<f32>, [O, C/groups, KH, KW]
//   2 storage read       bias: array<f32>, [O] (read only when HAS_BIAS = 1)
//   3 storage read_write out: array<f32>, zero padded:
//     MODE 0 (forward): [G, KH*KW, cg_pad, og_pad], out[g, t, ci, ol] = w[g*Og + ol, ci, t],
//       then G bias rows [G, og_pad] (zeros without a bias)
//     MODE 1 (backward-data): [G, KH*KW, og_pad, cg_pad], out[g, t, ol, ci] = w[g*Og + ol, ci, t]
//     MODE 2 (small-channel backward-data): [O, 32], out[o, e] = w[o, e] for e < Cg*KH*KW
//       (the caller keeps Cg*KH*KW <= 32)
// One invocation per element of out. WG 256: one-dimensional, fewest workgroups.

struct Params {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, kh: u32, kw: u32, groups: u32,
    oh: u32, ow: u32, cg: u32, og: u32,
    sh: u32, sw: u32, ph: u32, pw: u32,
    dh: u32, dw: u32, total: u32, chunk: u32,
    n_chunks: u32, rh: u32, rw: u32, cls_h: u32,
    cls_w: u32, og_pad: u32, cg_pad: u32, _p0: u32,
}

override WG: u32 = 256u;
override MODE: u32 = 0u;
override HAS_BIAS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.total) {
        return;
    }
    let taps = p.kh * p.kw;
    if (MODE == 2u) {
        let row = p.cg * taps;
        let e = i % 32u;
        out[i] = select(0.0, w[select(0u, i / 32u * row + e, e < row)], e < row);
        return;
    }
    // (rows, cols) of one tap's block: (ci, ol) for MODE 0, (ol, ci) for MODE 1.
    var rows = p.cg_pad;
    var cols = p.og_pad;
    if (MODE == 1u) {
        rows = p.og_pad;
        cols = p.cg_pad;
    }
    let col = i % cols;
    let rest = i / cols;
    let block = rest / rows;
    if (block >= p.groups * taps) {
        // Bias rows (MODE 0 only): rest - G*taps*rows is the group.
        let g = rest - p.groups * taps * rows;
        var v = 0.0;
        if (HAS_BIAS == 1u && col < p.og) {
            v = bias[g * p.og + col];
        }
        out[i] = v;
        return;
    }
    let row = rest % rows;
    let g = block / taps;
    let t = block % taps;
    var ci = row;
    var ol = col;
    if (MODE == 1u) {
        ci = col;
        ol = row;
    }
    var v = 0.0;
    if (ci < p.cg && ol < p.og) {
        v = w[((g * p.og + ol) * p.cg + ci) * taps + t];
    }
    out[i] = v;
}
