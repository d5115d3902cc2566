#!/usr/bin/env python3
"""Makes a shader variant: a base WGSL file with the replacements of a .variant file.

Kernel versions that differ from another version in a few places (a subgroup load
path, a different sort) are kept as the base shader plus their differences, so the
code they share has one source. A .variant file reads:

    //@@ base shaders/conv2d_forward_v2.wgsl
    //@@ out shaders/conv2d_forward_v4.wgsl
    //@@ replace
    <lines of the base, found exactly once>
    //@@ with
    <their replacement>
    //@@ end
    ... more replace / with / end blocks, applied in order

    python3 apply.py <file.variant> [<repository root>] [<output path>]

writes the variant (to <out>, or to the given output path). regen.sh remakes them all;
tests/shaders.rs checks that the committed files are what this makes.
"""
import os
import sys


def parse(text):
    """(base, out, [(old, new)]) of a .variant file."""
    base = out = None
    blocks, state, old, new = [], None, [], []
    for line in text.splitlines(keepends=True):
        tag = line.strip()
        if tag.startswith("//@@ base "):
            base = tag[len("//@@ base "):]
        elif tag.startswith("//@@ out "):
            out = tag[len("//@@ out "):]
        elif tag == "//@@ replace":
            state, old, new = "old", [], []
        elif tag == "//@@ with":
            state = "new"
        elif tag == "//@@ end":
            blocks.append(("".join(old), "".join(new)))
            state = None
        elif state == "old":
            old.append(line)
        elif state == "new":
            new.append(line)
    if base is None or out is None or state is not None:
        sys.exit("apply.py: a variant needs '//@@ base', '//@@ out' and closed blocks")
    return base, out, blocks


def make(variant_path, root):
    base, out, blocks = parse(open(variant_path).read())
    text = open(os.path.join(root, base)).read()
    for k, (old, new) in enumerate(blocks):
        if text.count(old) != 1:
            sys.exit(f"apply.py: {variant_path}: block {k + 1} is not found exactly once in {base}")
        text = text.replace(old, new)
    return out, text


def main():
    variant = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
    out, text = make(variant, root)
    path = sys.argv[3] if len(sys.argv) > 3 else os.path.join(root, out)
    open(path, "w").write(text)


if __name__ == "__main__":
    main()
