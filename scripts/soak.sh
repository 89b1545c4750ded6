#!/usr/bin/env bash
# Longer hardening run: the chaos soak for SOAK_SECS and the SIGKILL matrix for KILLS kills.
# Usage: scripts/soak.sh [soak-seconds] [kills]        (default 1800 s and 500 kills)
#   ASSENT_TEST_KEYRING=1   kill matrix against the real keychain (run under scripts/headless.sh)
# The bounded versions (60 s, 100 kills) run in scripts/test.sh; figures are printed per test.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"

export SOAK_SECS=${1:-1800}
export KILLS=${2:-500}
say "chaos soak ${SOAK_SECS}s, kill matrix ${KILLS} kills"
cargo test -p assent-hardening --test chaos_soak --test kill_matrix -- --nocapture --test-threads=1
