// conv2d_backward_weight_v1: gradient of the weight, the naive port of
// conv2d_backward_weight_ref, with the reduction over N*OH*OW cut into chunks.
//
// bindings
//   0 uniform Params (see ops/conv2d/geometry.rs): sizes, stride, padding, dilation, groups;
//     chunk = output pixels (over n, oh, ow) per chunk, n_chunks = ceil(N*OH*OW / chunk),
//     total = n_chunks * O*Cg*KH*KW
//   1 storage read       dy: array<f32>, [N, O, OH, OW]
//   2 storage read       x: array<f32>, [N, C, H, W]
//   3 storage read_write part: array<f32>, [n_chunks, O, Cg, KH, KW] partial sums
// One invocation per (chunk, weight element): sum over the chunk's output pixels of
// dy * x at the tap. The caller adds the partials over chunks in a fixed order
// (deterministic), and no invocation loops more than `chunk` times (the 65,535 cap).
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
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.total) {
        return;
    }
    let nw = p.o * p.cg * p.kh * p.kw;
    let k = i / nw;
    let wi = i % nw;
    let kw = wi % p.kw;
    let kh = (wi / p.kw) % p.kh;
    let ci = (wi / (p.kw * p.kh)) % p.cg;
    let o = wi / (p.kw * p.kh * p.cg);
    let c = (o / p.og) * p.cg + ci;
    let ohw = p.oh * p.ow;
    let m0 = k * p.chunk;
    let m1 = min(m0 + p.chunk, p.n * ohw);
    var s = 0.0;
    for (var m = m0; m < m1; m++) {
        let n = m / ohw;
        let oh = (m % ohw) / p.ow;
        let ow = m % p.ow;
        let ih = i32(oh * p.sh + kh * p.dh) - i32(p.ph);
        let iw = i32(ow * p.sw + kw * p.dw) - i32(p.pw);
        if (ih < 0 || ih >= i32(p.h) || iw < 0 || iw >= i32(p.w)) {
            continue;
        }
        s += dy[(n * p.o + o) * ohw + oh * p.ow + ow] * x[((n * p.c + c) * p.h + u32(ih)) * p.w + u32(iw)];
    }
    part[i] = s;
}
