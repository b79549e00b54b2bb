#!/usr/bin/env bash
# Runs every cargo-fuzz target under fuzz/ for a bounded time and keeps what it finds.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (installed with `cargo install cargo-fuzz` when
# missing). Each target starts from its corpus (fuzz/corpus/<target>, seeded from the test
# clips) plus its regression inputs (tests/data/fuzz-regressions/<target>), runs for
# SECONDS, and every crash, out-of-memory or timeout input it finds is copied to
# tests/data/fuzz-regressions/<target>/, where `cargo test` (crates/input/tests/input_fuzz_regressions.rs;
# for seek_plan, the unit test in src/decode/seek/model.rs) replays it from then on. Exits
# non-zero if any target found something.
set -euo pipefail

secs="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
    targets="$*"
else
    targets="$(cargo +nightly fuzz list)"
fi

# Seeds: the first 4 KiB of a test clip behind the two selector bytes the raw-reader targets
# read (hint, chunk seed); container targets take the clip as it is.
seed() {
    local target="$1" clip="$2" prefix="$3"
    local out="corpus/$target/seed-$(basename "$clip")"
    [ -f "$clip" ] && [ ! -f "$out" ] || return 0
    { printf "$prefix"; head -c 4096 "$clip"; } > "$out"
}

status=0
for target in $targets; do
    mkdir -p "corpus/$target" "$root/tests/data/fuzz-regressions/$target"
    case "$target" in
        annexb)
            seed annexb "$root/tests/data/h264_640x360_b3.h264" '\000\007'
            seed annexb "$root/tests/data/hevc_640x360_main.hevc" '\001\011' ;;
        mpeg2) seed mpeg2 "$root/tests/data/mpeg2_320x176.m2v" '\000\005' ;;
        ivf) seed ivf "$root/tests/data/vp9_640x360_p0.ivf" '\000\003' ;;
        elementary_stream)
            seed elementary_stream "$root/tests/data/av1_320x240.ivf" '\001\002'
            seed elementary_stream "$root/tests/data/containers/h264_frag.mp4" '\000\004' ;;
        ts)
            seed ts "$root/tests/data/ts/h264_b3.ts" '\000\007'
            seed ts "$root/tests/data/ts/h264_b3.m2ts" '\001\003'
            seed ts "$root/tests/data/ts/hevc_main10.ts" '\002\011'
            seed ts "$root/tests/data/ts/mpeg2.ts" '\000\005'
            seed ts "$root/tests/data/ts/h264_pmt.ts" '\003\002' ;;
        raw_index)
            seed raw_index "$root/tests/data/index/h264_opengop.h264" '\000'
            seed raw_index "$root/tests/data/index/hevc_cra_start.hevc" '\001'
            seed raw_index "$root/tests/data/vp9_640x360_p0.ivf" '\002' ;;
    esac
    echo "== fuzzing $target for ${secs}s"
    rm -rf "artifacts/$target"
    if ! cargo +nightly fuzz run -O "$target" "corpus/$target" \
        "$root/tests/data/fuzz-regressions/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -timeout=2; then
        status=1
    fi
    for found in artifacts/"$target"/*; do
        [ -f "$found" ] || continue
        cp "$found" "$root/tests/data/fuzz-regressions/$target/"
        echo "kept $found as tests/data/fuzz-regressions/$target/$(basename "$found")"
        status=1
    done
done
exit "$status"
