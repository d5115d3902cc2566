#!/usr/bin/env bash
# Regenerates the two generated PAV v2 shaders (unrolled sorting network and the
# 4- and 16-way merge tournaments) from the templates beside this script. (The v4
# forward is a variant of v3's: tools/variants.)
#   tools/pav/regen.sh   (from the repository root or anywhere)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shaders="$here/../../shaders"
python3 "$here/gen_sort.py" 64 "$shaders/softrank_pav_sort_v2.wgsl"
python3 - "$here" "$shaders" <<'PY'
import importlib.util, os, sys
here, shaders = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("gm", os.path.join(here, "gen_merge.py"))
gm = importlib.util.module_from_spec(spec); spec.loader.exec_module(gm)
src = open(os.path.join(here, "iso_template.wgsl")).read()
src = src.replace("@MERGE4@", gm.gen(4)).replace("@MERGE16@", gm.gen(16))
open(os.path.join(shaders, "softrank_pav_isotonic_v2.wgsl"), "w").write(src)
PY
