#!/usr/bin/env bash
# Remakes every shader variant (shaders/X = a base shader + tools/variants/X.variant).
#   tools/variants/regen.sh   (from the repository root or anywhere)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for v in "$here"/*.variant; do
    python3 "$here/apply.py" "$v" "$here/../.."
done
