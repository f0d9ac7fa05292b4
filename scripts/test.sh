#!/usr/bin/env bash
# Runs every test: the unit tests (swift test), then the integration tests (pytest) against the real
# test world — DNS (unbound + nsd) and HTTPS (nginx with a test CA) in the network namespace
# `sts-world` — which this script brings up and tears down. Needs root (network namespaces) and
# installs the Debian packages it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: the integration tests create a network namespace and need root (sudo scripts/test.sh)" >&2
    exit 1
fi

scripts/install-deps.sh --test
python3 -m pytest --version >/dev/null 2>&1 || python3 -m pip install -q pytest

echo "== build"
swift build --build-tests
bin=$(swift build --show-bin-path)

echo "== unit tests"
swift test --skip-build --disable-swift-testing

echo "== fuzz (short pass)"; scripts/fuzz.sh --seconds 10

echo "== integration tests"
trap 'scripts/world/down.sh >/dev/null 2>&1 || true' EXIT
scripts/world/up.sh
STS_BIN="$bin" python3 -m pytest -q -p no:cacheprovider Tests/Integration "$@"
