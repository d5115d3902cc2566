#!/usr/bin/env python3
"""Makes every generated shader in shaders/: the one way to remake them.

    python3 tools/shaders.py            writes every generated shader
    python3 tools/shaders.py --check    writes nothing; names each committed file that
                                        is not what its source makes, and exits 1
    python3 tools/shaders.py --list     prints each generated file and its source
    --root DIR                          the repository to work in (default: this one)

A shader is generated when writing it by hand would repeat code: loops unrolled for
CPU drivers (which keep loops as they are) or for registers, a kernel version that
differs from another in a few places, a kernel compiled at several private-array
sizes. SHADERS below lists each one with its source, in the order they are made
(a variant's base may itself be generated). Three kinds of source:
  - a generator script that prints the shader (tools/matmul, tools/conv2d, tools/pav);
  - a .variant file (tools/variants): a base shader plus replacements, see apply.py;
  - a sized copy: a base shader with `const CMAX` set (PAV V3's private arrays, whose
    size must be a constant in WGSL).
Every generated shader says in its header that it is generated and from what, so
nobody edits it by hand; tests/shaders.rs runs --check.
"""
import glob
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the repository
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "variants"))
import apply  # noqa: E402  (tools/variants/apply.py)


class Script:
    """A generator script (relative to the root) run with args; its stdout is the shader."""

    def __init__(self, path, *args):
        self.path, self.args = path, list(args)

    def source(self):
        return " ".join([self.path] + self.args)

    def make(self, root, made):
        run = subprocess.run(
            [sys.executable, os.path.join(root, self.path)] + self.args,
            capture_output=True, text=True)
        if run.returncode != 0:
            raise apply.VariantError(f"{self.source()} failed:\n{run.stderr}")
        return run.stdout


class Variant:
    """A .variant file: its base (as made in this run, if generated) plus replacements."""

    def __init__(self, path):
        self.path = path

    def source(self):
        return self.path

    def out(self, root):
        return apply.parse(read(root, self.path), self.path)[1]

    def make(self, root, made):
        base, _, blocks = apply.parse(read(root, self.path), self.path)
        return apply.apply(made.get(base) or read(root, base), blocks, self.path)


class Sized:
    """A copy of base with `const CMAX: u32 = 16u;` set to c, named `<kernel>_c<c>`."""

    DECL = "const CMAX: u32 = 16u;"

    def __init__(self, base, c):
        self.base, self.c = base, c

    def source(self):
        return f"{self.base} with CMAX = {self.c}"

    def make(self, root, made):
        text = made.get(self.base) or read(root, self.base)
        kernel = os.path.basename(self.base)[: -len(".wgsl")]
        head = f"// {kernel}:"
        if not text.startswith(head) or text.count(self.DECL) != 1:
            raise apply.VariantError(
                f"{self.base} must start with '{head}' and hold '{self.DECL}' once")
        note = (f"// {kernel}_c{self.c}: {kernel} with CMAX = {self.c}.\n"
                f"// Generated from {kernel}.wgsl by tools/shaders.py: edit that, then\n"
                f"// run python3 tools/shaders.py.\n")
        return note + text.replace(self.DECL, f"const CMAX: u32 = {self.c}u;")


def read(root, path):
    with open(os.path.join(root, path)) as f:
        return f.read()


def shaders(root):
    """(output path, source) of every generated shader, in the order they are made."""
    out = [
        ("shaders/matmul_v2.wgsl", Script("tools/matmul/gen_v2.py", "4", "2")),
        ("shaders/matmul_v4.wgsl", Script("tools/matmul/gen_v4.py")),
        ("shaders/conv2d_forward_v5.wgsl", Script("tools/conv2d/gen_fwd_small.py", "5")),
        ("shaders/conv2d_forward_v6.wgsl", Script("tools/conv2d/gen_fwd_small.py", "6")),
        ("shaders/conv2d_backward_data_v5.wgsl", Script("tools/conv2d/gen_bd_small.py", "5")),
        ("shaders/conv2d_backward_data_v6.wgsl", Script("tools/conv2d/gen_bd_small.py", "6")),
        ("shaders/conv2d_forward_v2.wgsl", Script("tools/conv2d/gen_fwd.py")),
        ("shaders/conv2d_backward_data_v2.wgsl", Script("tools/conv2d/gen_bd.py")),
        ("shaders/conv2d_backward_weight_v2.wgsl", Script("tools/conv2d/gen_bw.py")),
        ("shaders/softrank_pav_sort_v2.wgsl", Script("tools/pav/gen_sort.py", "64")),
        ("shaders/softrank_pav_isotonic_v2.wgsl", Script("tools/pav/gen_iso.py")),
    ]
    # PAV V3 at each positions-per-thread C below 16 (the base is C = 16; pav/v3.rs).
    for kernel in ["softrank_pav_forward_v3", "softrank_pav_backward_v3"]:
        for c in [1, 2, 4, 8]:
            out.append((f"shaders/{kernel}_c{c}.wgsl", Sized(f"shaders/{kernel}.wgsl", c)))
    for path in sorted(glob.glob(os.path.join(root, "tools/variants/*.variant"))):
        variant = Variant(os.path.relpath(path, root))
        out.append((variant.out(root), variant))
    return out


def main():
    args = sys.argv[1:]
    root = os.path.join(HERE, "..")
    if "--root" in args:
        root = args[args.index("--root") + 1]
    check, listing = "--check" in args, "--list" in args
    made, stale = {}, []
    for path, source in shaders(root):
        if listing:
            print(f"{path}\t{source.source()}")
            continue
        try:
            text = source.make(root, made)
        except apply.VariantError as e:
            sys.exit(f"tools/shaders.py: {e}")
        if "tools/shaders.py" not in text.split("\n\n", 1)[0]:
            sys.exit(f"tools/shaders.py: {path}: its header must say it is generated "
                     "(name tools/shaders.py before the first blank line)")
        made[path] = text
        target = os.path.join(root, path)
        current = read(root, path) if os.path.exists(target) else None
        if current == text:
            continue
        if check:
            stale.append(f"{path} (from {source.source()})")
        else:
            with open(target, "w") as f:
                f.write(text)
            print(f"wrote {path}")
    if stale:
        print("not what their sources make (run python3 tools/shaders.py):", file=sys.stderr)
        for s in stale:
            print(f"  {s}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
