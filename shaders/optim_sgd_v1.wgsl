// optim_sgd_v1: one torch.optim.SGD step on one parameter tensor, in place.
//   d = g + weight_decay * p                      (when weight_decay != 0)
//   buf = d                                       (first step: `first` == 1)
//   buf = momentum * buf + (1 - dampening) * d    (later steps)
//   d = d + momentum * buf  (nesterov)  or  d = buf
//   p = p - lr * d
// Entries `plain` / `plain4` skip the momentum lines (momentum == 0, no buffer);
// `momentum` / `momentum4` run them. The `*4` entries move one vec4 per invocation
// (the element count must divide by 4), the others one element; all four share the
// helpers below, written on vec4 (the per-element entries use the x lane).
//
// bindings
//   0 uniform Params { n (elements, or vec4s for the *4 entries), first, nesterov,
//     lr, momentum, one_minus_dampening, weight_decay } (1 - dampening comes from
//     the host in f64, as torch computes it)
//   1 storage read_write p: array<f32> (or array<vec4<f32>>), the parameter
//   2 storage read       g: array<f32> (or array<vec4<f32>>), its gradient
//   3 storage read_write buf: array<f32> (or array<vec4<f32>>), momentum buffer
// WG 256: a memory-bound update, the fewest workgroups.

struct Params {
    n: u32,
    first: u32,
    nesterov: u32,
    _pad: u32,
    lr: f32,
    momentum: f32,
    one_minus_dampening: f32,
    weight_decay: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read_write> p1: array<f32>;
@group(0) @binding(2) var<storage, read> g1: array<f32>;
@group(0) @binding(3) var<storage, read_write> b1: array<f32>;
// The same bindings seen as vec4s, for the *4 entries.
@group(0) @binding(1) var<storage, read_write> p4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> b4: array<vec4<f32>>;

fn decayed(x: vec4<f32>, gv: vec4<f32>) -> vec4<f32> {
    if (u.weight_decay != 0.0) {
        return gv + u.weight_decay * x;
    }
    return gv;
}

// New momentum buffer from the old one and the decayed gradient d.
fn new_buf(b: vec4<f32>, d: vec4<f32>) -> vec4<f32> {
    if (u.first != 0u) {
        return d;
    }
    return u.momentum * b + u.one_minus_dampening * d;
}

fn direction(d: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    if (u.nesterov != 0u) {
        return d + u.momentum * b;
    }
    return b;
}

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn plain(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= u.n) {
        return;
    }
    let x = p1[i];
    let d = decayed(vec4<f32>(x), vec4<f32>(g1[i])).x;
    p1[i] = x - u.lr * d;
}

@compute @workgroup_size(WG)
fn plain4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= u.n) {
        return;
    }
    let x = p4[i];
    p4[i] = x - u.lr * decayed(x, g4[i]);
}

@compute @workgroup_size(WG)
fn momentum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= u.n) {
        return;
    }
    let x = p1[i];
    let d = decayed(vec4<f32>(x), vec4<f32>(g1[i]));
    let b = new_buf(vec4<f32>(b1[i]), d);
    b1[i] = b.x;
    p1[i] = x - u.lr * direction(d, b).x;
}

@compute @workgroup_size(WG)
fn momentum4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= u.n) {
        return;
    }
    let x = p4[i];
    let d = decayed(x, g4[i]);
    let b = new_buf(b4[i], d);
    b4[i] = b;
    p4[i] = x - u.lr * direction(d, b);
}
