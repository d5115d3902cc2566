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
//   3 storage read       stats: array<f32>, 8, written by the forward
//   4 storage read       g: array<f32>, 1 element, the gradient of the loss
//   5 storage read_write dx: array<f32>, n
// One invocation per element; WG 256.

struct Params {
    n: u32,
    which: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i >= p.n) {
        return;
    }
    let mx = stats[p.which];
    let my = stats[1u - p.which];
    let var_x = stats[2u + p.which];
    let r = stats[5];
    let inv_d = stats[6];
    dx[i] = -g[0] / f32(p.n) * ((y[i] - my) * inv_d - r * (x[i] - mx) / var_x);
}
