// attack_step_v1: the update of one attack step, fused, one element per invocation.
// x is the clean batch, a the current adversarial batch (entry `l2_project`: the
// stepped perturbation), d the step's direction (`l2_project`: one factor per image).
//   linf:       out = clamp(x + clamp(a - alpha * sign(d) - x, -eps, eps), 0, 1)
//   l2_delta:   out = a - s[b] * d - x          (s[b] = alpha / ||d_b||_2, from the host
//                                                side's reductions)
//   l2_project: out = clamp(x + d[b] * a, 0, 1) (d[b] = min(1, eps / ||a_b||_2))
// b = i / per_image is the image an element belongs to. sign(0) = 0, as torch's.
//
// bindings
//   0 uniform Params { n (elements), per_image, alpha, eps }
//   1 storage read       x: array<f32>
//   2 storage read       a: array<f32>
//   3 storage read       d: array<f32>
//   4 storage read_write out: array<f32>
//   5 storage read       s: array<f32>   (`l2_delta` only)
// WG 256: memory-bound, the fewest workgroups.

struct Params {
    n: u32,
    per_image: u32,
    alpha: f32,
    eps: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> d: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> s: array<f32>;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn linf(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= u.n) {
        return;
    }
    let xi = x[i];
    let delta = clamp(a[i] - u.alpha * sign(d[i]) - xi, -u.eps, u.eps);
    out[i] = clamp(xi + delta, 0.0, 1.0);
}

@compute @workgroup_size(WG)
fn l2_delta(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= u.n) {
        return;
    }
    out[i] = a[i] - s[i / u.per_image] * d[i] - x[i];
}

@compute @workgroup_size(WG)
fn l2_project(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= u.n) {
        return;
    }
    out[i] = clamp(x[i] + d[i / u.per_image] * a[i], 0.0, 1.0);
}
