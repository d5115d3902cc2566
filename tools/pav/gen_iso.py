"""Prints softrank_pav_isotonic_v2.wgsl: iso_template.wgsl with the 4- and 16-way merge
tournaments of gen_merge.py unrolled.

    python3 tools/pav/gen_iso.py   (tools/shaders.py runs it)
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gm", os.path.join(HERE, "gen_merge.py"))
gm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gm)
src = open(os.path.join(HERE, "iso_template.wgsl")).read()
sys.stdout.write(src.replace("@MERGE4@", gm.gen(4)).replace("@MERGE16@", gm.gen(16)))
