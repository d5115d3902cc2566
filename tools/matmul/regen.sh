#!/usr/bin/env bash
# Regenerates the unrolled matmul shaders: v2 (16x8 register block: 4 row blocks of
# 4 rows, 2 vec4 column groups) and v4 (subgroup broadcast, 32x8 per lane).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 "$here/gen_v2.py" 4 2 >"$here/../../shaders/matmul_v2.wgsl"
python3 "$here/gen_v4.py" >"$here/../../shaders/matmul_v4.wgsl"
