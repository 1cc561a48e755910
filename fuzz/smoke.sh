#!/bin/sh
# A short fuzzing run of every target, for CI: SECONDS each (default 30), one after another,
# starting from the committed corpus (new inputs go to a scratch directory, so the corpus is
# left as committed). Exits non-zero on the first crash, hang or broken invariant; the input
# is kept in fuzz/artifacts/<target>/. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz --locked`).
set -eu
cd "$(dirname "$0")"
seconds=${1:-30}
cargo +nightly fuzz build
for target in http_head engine_frames capture_file; do
    scratch=$(mktemp -d)
    # capture_file: the reader warns on stderr about every cut capture; libFuzzer's own
    # report still goes to the log.
    quiet=""
    [ "$target" = capture_file ] && quiet="-close_fd_mask=2"
    echo "fuzz: $target for ${seconds}s"
    if ! cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- \
        -dict=http.dict -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 $quiet; then
        rm -rf "$scratch"
        echo "fuzz: $target failed"
        exit 1
    fi
    rm -rf "$scratch"
done
echo "fuzz: every target ran ${seconds}s without a failure"
