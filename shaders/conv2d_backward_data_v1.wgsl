// conv2d_backward_data_v1: gradient of the input, the naive port of
// conv2d_backward_data_ref written as a gather (no atomics).
//
// bindings
//   0 uniform Params (see ops/conv2d/geometry.rs): sizes, stride, padding, dilation, groups;
//     total = N*C*H*W
//   1 storage read       dy: array<f32>, [N, O, OH, OW]
//   2 storage read       w: array<f32>, [O, C/groups, KH, KW]
//   3 storage read_write dx: array<f32>, [N, C, H, W]
// One invocation per input element (n, c, ih, iw): a loop over the output channels of
// its group and the taps (kh, kw); a tap contributes when ih + ph - kh*dh is a
// non-negative multiple of sh below OH*sh (likewise for the width).
// Iterations per invocation: Og*KH*KW (the caller keeps it under the 65,535 cap).
// WG 256: one-dimensional, fewest workgroups.

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

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.total) {
        return;
    }
    let iw = i % p.w;
    let ih = (i / p.w) % p.h;
    let c = (i / (p.w * p.h)) % p.c;
    let n = i / (p.w * p.h * p.c);
    let g = c / p.cg;
    let ci = c % p.cg;
    var s = 0.0;
    for (var ol = 0u; ol < p.og; ol++) {
        let o = g * p.og + ol;
        let yo = (n * p.o + o) * p.oh;
        let wc = (o * p.cg + ci) * p.kh;
        for (var kh = 0u; kh < p.kh; kh++) {
            // oh * sh = ih + ph - kh * dh
            let th = i32(ih + p.ph) - i32(kh * p.dh);
            if (th < 0 || u32(th) % p.sh != 0u || u32(th) / p.sh >= p.oh) {
                continue;
            }
            let oh = u32(th) / p.sh;
            for (var kw = 0u; kw < p.kw; kw++) {
                let tw = i32(iw + p.pw) - i32(kw * p.dw);
                if (tw < 0 || u32(tw) % p.sw != 0u || u32(tw) / p.sw >= p.ow) {
                    continue;
                }
                let ow = u32(tw) / p.sw;
                s += dy[(yo + oh) * p.ow + ow] * w[(wc + kh) * p.kw + kw];
            }
        }
    }
    dx[i] = s;
}
