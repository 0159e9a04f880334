#!/usr/bin/env bash
# The one test command: installs what the tests need, then type-check, unit, oracle, bounded fuzz
# and Playwright (real Debian Chromium) tests. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
export REQUIRE_ORACLES=1   # oracle tests fail, not skip, when qemu-img or vmfs-tools is missing
npm test
