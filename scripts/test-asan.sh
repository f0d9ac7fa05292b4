#!/usr/bin/env bash
# Runs the test suite with AddressSanitizer: the unit tests, then the integration
# tests against a test world of its own (network namespace sts-asan, state in /tmp/sts-asan-world, so it
# can run next to scripts/test.sh), with every sts program built with -sanitize=address.
#
#   scripts/test-asan.sh               unit and integration tests (root: the test world needs it)
#   scripts/test-asan.sh --unit        unit tests only
#   scripts/test-asan.sh -- ARGS...    pass ARGS to pytest (e.g. -k daemon)
#
# The build goes to .build-asan. An ASan report (or, in the integration tests, an LSan report) makes the
# program that hit it fail, so the test that ran it fails. Installs the Debian packages it needs (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

unit_only=0
pytest_args=()
while (($#)); do
    case $1 in
        --unit) unit_only=1; shift ;;
        --) shift; pytest_args=("$@"); break ;;
        -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "test-asan.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [[ $(id -u) -ne 0 && $unit_only -eq 0 ]]; then
    echo "test-asan.sh: the integration tests create a network namespace and need root (or use --unit)" >&2
    exit 1
fi
if [[ $(id -u) -eq 0 ]]; then
    if ((unit_only)); then scripts/install-deps.sh </dev/null; else scripts/install-deps.sh --test </dev/null; fi
fi
if ((!unit_only)); then
    python3 -m pytest --version >/dev/null 2>&1 || python3 -m pip install -q pytest
fi

scratch=.build-asan
# halt_on_error is the default: the first error ends the program with a report on stderr.
# detect_leaks: LeakSanitizer runs at exit; scripts/lsan.supp names what it must not report (see there).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$repo/scripts/lsan.supp:print_suppressions=0}
# Swift's crash handler reads the crashed thread's stack, which ASan takes for a second error.
export SWIFT_BACKTRACE=enable=no

echo "== build (AddressSanitizer)"
started=$SECONDS
swift build --build-tests --sanitize=address --scratch-path "$scratch" </dev/null 2>&1 | { grep -v "Cannot export local symbol" || true; }
echo "   built in $((SECONDS - started)) s"
bin=$(swift build --sanitize=address --scratch-path "$scratch" --show-bin-path </dev/null)

echo "== unit tests (AddressSanitizer)"
started=$SECONDS
# Without leak detection: XCTest on Linux never frees its test cases (each holds its run and the run holds
# it), so everything a test case keeps would be reported at exit. Leaks are checked in the integration
# tests, where each sts program runs as its own process under LeakSanitizer.
ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 swift test --skip-build --disable-swift-testing --sanitize=address --scratch-path "$scratch" </dev/null
echo "   unit tests passed in $((SECONDS - started)) s"
((unit_only)) && exit 0

echo "== integration tests (AddressSanitizer)"
export STS_WORLD_NETNS=${STS_WORLD_NETNS:-sts-asan}
export STS_WORLD_DIR=${STS_WORLD_DIR:-/tmp/sts-asan-world}
trap 'scripts/world/down.sh >/dev/null 2>&1 || true' EXIT
scripts/world/up.sh </dev/null
started=$SECONDS
# Left out: this test bounds the whole drain at 10 s, and the drain waits for the stage's lookup of a
# black-holed name, which ends at sts-dns's 10 s timeout; the instrumented programs are slow enough to go
# just past the bound (10.05 s). scripts/test.sh runs it with the normal build.
STS_BIN="$bin" python3 -m pytest -q -p no:cacheprovider Tests/Integration \
    --deselect Tests/Integration/test_operations.py::test_drain_answers_in_flight_requests_and_closes_idle_connections \
    "${pytest_args[@]}" </dev/null
echo "   integration tests passed in $((SECONDS - started)) s"
