#!/bin/bash
# Sets up the peers that `bench.py` times beside cprl's benchmark: torch (CPU use) and
# torchsort (built from source against it), in a virtual environment of their own.
# About 5 GB and a few minutes; nothing in cprl needs it to build or test.
# Usage: tools/peers/setup.sh VENV_DIR
set -eu
v=${1:?usage: setup.sh VENV_DIR}
python3 -m venv "$v"
"$v/bin/pip" install -q -U pip wheel setuptools
"$v/bin/pip" install -q torch numpy
"$v/bin/pip" install -q --no-build-isolation torchsort
"$v/bin/python" -c "import torch, torchsort; print('torch', torch.__version__, 'and torchsort ready in $v')"
