// loss_plcc_backward_v1: the gradient of loss = 1 - r (loss_plcc_forward_v1) with
// respect to one of its inputs x, the other being y:
// dx[i] = -g / n * ((y[i] - mean_y) * inv_d - r * (x[i] - mean_x) / var_x),
// var_x including eps (see the forward). WHICH 0 differentiates the prediction
// (x = pred, y = tgt), WHICH 1 the target (x = tgt, y = pred).
//
// bindings
//   0 uniform Params { n, which }
//   1 storage read       x: array<f32>, n
//   2 storage read       y: array<f32>, n
//   3 storage read       stats: array<vec4<f32>>, 2 (8 values), written by the
//     forward: two vec4 loads instead of five scalar ones
//   4 storage read       g: array<f32>, 1 element, the gradient of the loss
//   5 storage read_write dx: array<f32>, n
// Entry `main`: one element per invocation. `main4`: one vec4 (n divisible by 4;
// bindings 1, 2 and 5 are then array<vec4<f32>>), which spreads the loads of the
// stats and g over four elements. WG 256.

struct Params {
    n: u32,
    which: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
// The same bindings seen as vec4s, for main4.
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> y4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> dx4: array<vec4<f32>>;

// dx for x values xv and y values yv (of the same lanes).
fn grad(xv: vec4<f32>, yv: vec4<f32>) -> vec4<f32> {
    // s0 = (mean_p, mean_t, var_p + eps, var_t + eps), s1 = (cov, r, inv_d, n).
    let s0 = stats[0];
    let s1 = stats[1];
    let mx = select(s0.x, s0.y, p.which == 1u);
    let my = select(s0.y, s0.x, p.which == 1u);
    let var_x = select(s0.z, s0.w, p.which == 1u);
    let r = s1.y;
    let inv_d = s1.z;
    return -g[0] / f32(p.n) * ((yv - my) * inv_d - r * (xv - mx) / var_x);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n) {
        return;
    }
    dx[i] = grad(vec4<f32>(x[i]), vec4<f32>(y[i])).x;
}

@compute @workgroup_size(WG)
fn main4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n / 4u) {
        return;
    }
    dx4[i] = grad(x4[i], y4[i]);
}
