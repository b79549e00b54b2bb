#!/usr/bin/env bash
# Builds the release test binaries, examples and benchmark, stages them in ./stage/
# (git-ignored), and prints the one command that runs every GPU test on the GPU machine.
#
# The GPU machine has no Rust toolchain: it runs these binaries from a copy of this
# repository, with `stage` carried along (device tool: carry ["stage"]).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf stage && mkdir -p stage/tests stage/examples
cargo test --release --no-run --message-format=json 2>/dev/null \
  | python3 -c '
import json, sys, shutil, os
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        name = m["target"]["name"]
        if name in ("compile_fail", "standin"):  # these run rustc or cargo: nothing to run without a toolchain
            continue
        shutil.copy(m["executable"], os.path.join("stage/tests", name))
'
cargo build --release --examples -q
for ex in examples/*.rs; do
  name=$(basename "$ex" .rs)
  cp "target/release/examples/$name" stage/examples/
done
strip stage/tests/* stage/examples/* 2>/dev/null || true
du -sh stage
cat <<'TXT'
Run every GPU test on the GPU machine (from the repository root, `stage` carried):
  for t in stage/tests/*; do case $t in */gpu_nvenc) continue;; esac; echo "== $t"; "$t" --include-ignored --test-threads=4 || exit 1; done
On a GPU with NVENC also run: stage/tests/gpu_nvenc --include-ignored (it fails by design without NVENC).
TXT
