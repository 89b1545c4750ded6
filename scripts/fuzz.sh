#!/usr/bin/env bash
# Bounded cargo-fuzz run of every fuzz target (libFuzzer, `--sanitizer none`: works on stable).
# Usage: scripts/fuzz.sh [seconds-per-target] [target...]     (default 20 s, all targets)
#   FUZZ_JOBS=N   parallel libFuzzer workers per target (default 1)
# Prints executions and crashes per target; exits 1 when any target crashed (inputs are kept
# under fuzz/artifacts/<target>/, reproduce with `cargo fuzz run --sanitizer none -O <target> <file>`).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"

secs=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(client_response enrollment emulator_form emulator_jws)
fi
export PATH=$ASSENT_ROOT/tools/bin:$PATH
command -v cargo-fuzz >/dev/null || die "cargo-fuzz missing: cargo install cargo-fuzz --locked"
# The fuzz crate is its own workspace; its instrumented build gets its own target dir.
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$(assent_target_dir)/fuzz}
flags=(--sanitizer none -O)

say "building fuzz targets (${CARGO_TARGET_DIR})"
cargo fuzz build "${flags[@]}"

results=()
failed=0
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    log=$(mktemp)
    say "fuzzing $t for ${secs}s"
    set +e
    # Past crash inputs (fuzz/regressions/<target>) are replayed first as part of the corpus.
    extra=()
    [ -d "fuzz/regressions/$t" ] && extra=("fuzz/regressions/$t")
    cargo fuzz run "${flags[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" "${extra[@]}" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -max_len=20000 ${FUZZ_JOBS:+-jobs=$FUZZ_JOBS -workers=$FUZZ_JOBS} >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tr -d '#' | tail -1)
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        tail -40 "$log"
    fi
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    results+=("$(printf '%-16s %12s execs  %3s crashes  %5s corpus  exit %s' "$t" "${execs:-?}" "$crashes" "$corpus" "$rc")")
    rm -f "$log"
done
echo
echo "fuzz summary (${secs}s per target):"
printf '  %s\n' "${results[@]}"
exit "$failed"
