#!/usr/bin/env bash
# The Python package's CI (called by .ci/run): builds `crates/python` into a fresh virtual
# environment with maturin (dev profile: it shares target/ with `cargo test`), then runs
# pytest on `crates/python/python/tests`. No GPU needed: the GPU tests skip themselves; the
# stand-in driver tests use target/standin (built by `cargo test --test standin`) and skip
# if it is missing. pytest's exit status 5 ("no tests collected") is a failure here.
# The package always includes `rtsp://` input (the input crate's `rtsp` feature, enabled in
# crates/python/Cargo.toml), so building it needs Rust 1.88 or later (cargo says so when
# older); its RTSP test runs against GStreamer's server where .ci/run installed it.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
venv="${NVCG_PY_VENV:-target/python-ci-venv}"
case "$venv" in /*) ;; *) venv="$root/$venv" ;; esac
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin pytest numpy
(cd crates/python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --quiet)
set +e
# From outside the source tree, so the installed package (not the source folder) is imported.
(cd /tmp && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/crates/python/python/tests")
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "python-ci: pytest collected no tests (exit 5): the Python tests are missing" >&2
  exit 1
fi
exit "$status"
