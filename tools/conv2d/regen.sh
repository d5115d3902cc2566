#!/usr/bin/env bash
# Regenerates the unrolled small-channel backward-data shaders: v5 (no subgroups) and
# v6 (subgroup broadcast of the weights), from tools/conv2d/gen_bd_small.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 "$here/gen_bd_small.py" 5 >"$here/../../shaders/conv2d_backward_data_v5.wgsl"
python3 "$here/gen_bd_small.py" 6 >"$here/../../shaders/conv2d_backward_data_v6.wgsl"
