"""The parts that the small-channel generators (gen_fwd_small.py, gen_bd_small.py) share:
how the weights reach the lanes with and without subgroups, and the tile prologue of
`main`. Not run by itself; each function returns shader text for `sub` (version 6,
subgroup broadcasts) or not (version 5).
"""


def title(sub):
    """The end of the header's first sentence."""
    if sub:
        return "subgroup broadcast of the weights"
    return "every lane loads the weights itself (no subgroups: llvmpipe GL, any adapter)"


def weights_note(sub):
    """The header lines on how the output channel's weights reach every lane."""
    if sub:
        return """// Each lane loads one vec4 of the output channel's 32 weights and subgroupBroadcast
// hands all 8 to every lane (lanes 0..7 are the sources, so any subgroup size >= 8
// works); all lanes of a workgroup share one image plane (grid z), hence the weights.
// Every lane runs to the end (the broadcasts need the whole subgroup): tiles past the
// end are clamped and not stored."""
    return """// Each lane loads the (at most 8) vec4s of weights of the output channel itself: the
// same addresses in every lane."""


# Weight of input channel c at tap t from the output channel's row of 32 (WGSL).
WSEL = """// Weight of input channel c at tap t (kh * KW + kw) from the output channel's 32.
fn wsel(wl: ptr<function, array<vec4<f32>, 8>>, c: u32, t: u32) -> f32 {
    let e = min(c * TAPS + t, 31u);
    return select(0.0, (*wl)[e / 4u][e % 4u], c < CG && t < TAPS);
}"""


def main_head(sub):
    """`main`'s signature and the tile index (`tile`; with subgroups clamped, and
    `live` tells whether the lane stores)."""
    sg = ",\n        @builtin(subgroup_invocation_id) sg_lane: u32" if sub else ""
    out = ["@compute @workgroup_size(WG)",
           "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,",
           f"        @builtin(local_invocation_index) lid: u32{sg}) {{"]
    if sub:
        out += ["    // No early return: every lane takes part in the broadcasts.",
                "    let m = (wid.x + wid.y * nwg.x) * WG + lid;",
                "    let live = m < p.total;",
                "    let tile = min(m, p.total - 1u);"]
    else:
        out += ["    let tile = (wid.x + wid.y * nwg.x) * WG + lid;",
                "    if (tile >= p.total) {",
                "        return;",
                "    }"]
    return out


def load_weights(sub):
    """wl[0..8]: the 32 weights of output channel `oc`, inside the loop over them."""
    if sub:
        return (["        let mine = wp[oc * 8u + sg_lane % 8u];"]
                + [f"        wl[{i}] = subgroupBroadcast(mine, {i}u);" for i in range(8)])
    return [f"        wl[{i}] = wp[oc * 8u + {i}u];" for i in range(8)]
