#!/usr/bin/env bash
# Builds the abi3 wheel of the Python package (one wheel for CPython 3.9+) into
# stage/wheels/, with pytest's wheels (for a machine without it) and the test files beside
# it, for a GPU machine without Rust or internet:
#   pip install --no-index --find-links stage/wheels nvcodec-guard pytest
#   cd /tmp && NVCG_REPO=<repo with tests/data> python -m pytest -q -rs <stage>/python-tests
# The wheel reads udp:// and rtsp:// sources (the input crate's `rtsp` feature, always on in
# crates/python/Cargo.toml), so building it needs Rust 1.88 or later.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${NVCG_PY_VENV:-target/python-ci-venv}"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
if [ ! -x "$venv/bin/maturin" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin
fi
mkdir -p stage/wheels stage/python-tests
(cd crates/python && "$venv/bin/maturin" build --release --out ../../stage/wheels)
# pytest and its dependencies as wheels (pure Python, any CPython 3.9+).
"$venv/bin/python" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
  --dest stage/wheels pytest
cp crates/python/python/tests/*.py stage/python-tests/
ls -l stage/wheels
