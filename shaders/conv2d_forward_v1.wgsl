// conv2d_forward_v1: direct convolution, the naive port of conv2d_forward_ref.
//
// bindings
//   0 uniform Params (see ops/conv2d/geometry.rs): sizes, stride, padding, dilation, groups;
//     total = N*O*OH*OW
//   1 storage read       x: array<f32>, [N, C, H, W]
//   2 storage read       w: array<f32>, [O, C/groups, KH, KW]
//   3 storage read       bias: array<f32>, [O] (read only when HAS_BIAS = 1)
//   4 storage read_write y: array<f32>, [N, O, OH, OW]
// One invocation per output element: a loop over (ci, kh, kw) of its group, taps in
// the padding skipped. Iterations per invocation: Cg*KH*KW (the caller keeps it under
// llvmpipe's 65,535 cap). WG 256: one-dimensional, fewest workgroups.

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
override HAS_BIAS: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.total) {
        return;
    }
    let ow = i % p.ow;
    let oh = (i / p.ow) % p.oh;
    let o = (i / (p.ow * p.oh)) % p.o;
    let n = i / (p.ow * p.oh * p.o);
    let g = o / p.og;
    var s = 0.0;
    for (var ci = 0u; ci < p.cg; ci++) {
        let xc = (n * p.c + g * p.cg + ci) * p.h;
        let wc = (o * p.cg + ci) * p.kh;
        for (var kh = 0u; kh < p.kh; kh++) {
            let ih = i32(oh * p.sh + kh * p.dh) - i32(p.ph);
            if (ih < 0 || ih >= i32(p.h)) {
                continue;
            }
            for (var kw = 0u; kw < p.kw; kw++) {
                let iw = i32(ow * p.sw + kw * p.dw) - i32(p.pw);
                if (iw < 0 || iw >= i32(p.w)) {
                    continue;
                }
                s += x[(xc + u32(ih)) * p.w + u32(iw)] * w[(wc + kh) * p.kw + kw];
            }
        }
    }
    if (HAS_BIAS == 1u) {
        s += bias[o];
    }
    y[i] = s;
}
