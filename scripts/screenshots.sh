#!/usr/bin/env bash
# Regenerates docs/screenshots/app-{accounts,pending,history}.png by running the
# end-to-end tests on the headless desktop with ASSENT_SCREENSHOTS=1.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"
scripts/setup.sh test
(cd ui && npm run build)
features=$(assent_features)
# shellcheck disable=SC2086
cargo build --workspace --all-targets $features
mkdir -p docs/screenshots
# shellcheck disable=SC2086
scripts/headless.sh env ASSENT_E2E=1 ASSENT_TEST_KEYRING=1 ASSENT_SCREENSHOTS=1 \
    cargo nextest run --workspace $features -E 'package(assent-e2e) & test(screenshots)'
ls -l docs/screenshots/
