#!/bin/sh
# A short fuzzing run of every target, for CI: SECONDS each (default 30), one after another,
# starting from the committed corpus (new inputs go to a scratch directory, so the corpus is
# left as committed). Exits non-zero at the first crash, hang or broken invariant; the input
# is kept in fuzz/artifacts/<target>/. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz --locked`). One build, with AddressSanitizer, for all targets.
set -eu
cd "$(dirname "$0")"
seconds=${1:-30}
cargo +nightly fuzz build
for target in http_head engine_frames capture_file; do
    case $target in
        # Frames past 4 KB add nothing the window (512 bytes) could see.
        engine_frames) options="-max_len=4096" ;;
        # The reader warns on stderr about every cut capture; libFuzzer's report still shows.
        capture_file) options="-close_fd_mask=2" ;;
        *) options="" ;;
    esac
    scratch=$(mktemp -d)
    echo "fuzz: $target for ${seconds}s"
    # shellcheck disable=SC2086 # $options is zero or one word
    if ! cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- \
        -dict=http.dict -max_total_time="$seconds" -timeout=10 $options; then
        rm -rf "$scratch"
        echo "fuzz: $target failed"
        exit 1
    fi
    rm -rf "$scratch"
done
echo "fuzz: every target ran ${seconds}s without a failure"
