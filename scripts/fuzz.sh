#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (with AddressSanitizer) and runs them.
#
#   scripts/fuzz.sh [--seconds N] [--max-len BYTES] [TARGET...]   fuzz each target for N seconds (default 60)
#                                                                  over a scratch copy of its corpus
#   scripts/fuzz.sh --replay [TARGET...]                           run every file of Fuzz/Corpus/<target>/ and
#                                                                  Fuzz/Regressions/<target>/ once
#
# TARGET is netstring, policy-key, txt-record, policy, json-line or config (default: all). Exits non-zero
# when a target crashes or breaks one of its invariants, and names the input that did it (kept under
# Fuzz/.build-fuzz/crashes/). Installs the Debian packages the build needs when they are missing (as root).
# Inputs libFuzzer finds interesting are thrown away with the scratch corpus; copy one into
# Fuzz/Corpus/<target>/ by hand if it is worth keeping.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

all_targets=(netstring policy-key txt-record policy json-line config)
seconds=60
max_len=4096
replay=0
targets=()
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
    case $1 in
        --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
        --seconds=*) seconds=${1#*=}; shift ;;
        --max-len) max_len=${2:?--max-len needs a number}; shift 2 ;;
        --max-len=*) max_len=${1#*=}; shift ;;
        --replay) replay=1; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *)
            if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
                echo "fuzz.sh: unknown target $1 (targets: ${all_targets[*]})" >&2
                exit 2
            fi
            targets+=("$1"); shift ;;
    esac
done
((${#targets[@]})) || targets=("${all_targets[@]}")
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "fuzz.sh: --seconds must be a positive number" >&2; exit 2; }
[[ $max_len =~ ^[0-9]+$ && $max_len -gt 0 ]] || { echo "fuzz.sh: --max-len must be a positive number" >&2; exit 2; }

# Build dependencies: libidn2 and libyaml headers (STSCore, STSConfig), pkg-config.
if [[ $(id -u) -eq 0 ]]; then
    scripts/install-deps.sh </dev/null
fi

scratch=$repo/Fuzz/.build-fuzz
crashes=$scratch/crashes
mkdir -p "$crashes"

echo "fuzz: building the targets (debug, -sanitize=fuzzer,address)"
started=$SECONDS
build_log=$scratch/build.log
build() {
    swift build --package-path Fuzz --scratch-path "$scratch" -c debug --sanitize=fuzzer --sanitize=address \
        </dev/null >"$build_log" 2>&1
}
# A build folder from before a source file moved fails with "missing inputs" (SwiftPM keeps the old
# paths): it is emptied (the crashes found stay) and the build tried once more.
build_failed=0
if ! build; then
    if grep -q "because of missing inputs" "$build_log"; then
        echo "fuzz: the build folder is stale (a source file moved); building afresh"
        find "$scratch" -mindepth 1 -maxdepth 1 ! -name crashes -exec rm -rf {} +
        build || build_failed=1
    else
        build_failed=1
    fi
fi
if ((build_failed)); then
    # The gold linker warns about every ASan helper symbol; those lines say nothing.
    grep -v "Cannot export local symbol" "$build_log" | tail -n 40 >&2
    echo "fuzz: the build failed (full log: $build_log)" >&2
    exit 1
fi
echo "fuzz: built in $((SECONDS - started)) s"
# Not `swift build --show-bin-path`: without the same sanitizer flags it makes the next build start over.
bin=$scratch/debug

# Leaks are reported like crashes (libFuzzer's -detect_leaks, on by default); stop at the first error.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:symbolize=1:detect_leaks=1}
# Swift's own crash handler reads the crashed thread's stack, which ASan reports as a second, bogus error;
# libFuzzer and ASan print the stack themselves.
export SWIFT_BACKTRACE=enable=no

work=$(mktemp -d "${TMPDIR:-/tmp}/sts-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

failed=()
for target in "${targets[@]}"; do
    program=$bin/fuzz-$target
    log=$work/$target.log
    inputs=()
    for dir in Fuzz/Corpus/$target Fuzz/Regressions/$target; do
        [[ -d $dir ]] || continue
        while IFS= read -r -d '' file; do inputs+=("$file"); done < <(find "$dir" -type f ! -name '.*' -print0 | sort -z)
    done
    started=$SECONDS
    if ((replay)); then
        ((${#inputs[@]})) || { echo "fuzz: $target: no inputs to replay"; continue; }
        # Files, not folders: libFuzzer runs each once and exits.
        if "$program" -runs=1 -timeout=10 -rss_limit_mb=2048 "${inputs[@]}" </dev/null >"$log" 2>&1; then
            echo "fuzz: $target: replayed ${#inputs[@]} inputs, all pass"
            continue
        fi
        culprit=$(grep -o "^Running: .*" "$log" | tail -n 1 | cut -d' ' -f2-)
    else
        corpus=$work/corpus-$target
        mkdir -p "$corpus"
        ((${#inputs[@]} == 0)) || cp "${inputs[@]}" "$corpus/"
        if timeout --kill-after=30 $((seconds + 300)) "$program" "$corpus" -max_total_time="$seconds" -max_len="$max_len" \
            -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/$target-" \
            </dev/null >"$log" 2>&1; then
            runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
            echo "fuzz: $target: ${runs:-?} runs in $((SECONDS - started)) s, no failure"
            continue
        fi
        culprit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    fi
    failed+=("$target")
    echo "fuzz: $target FAILED; last lines of its log:" >&2
    grep -v "^#[0-9]" "$log" | tail -n 40 >&2
    # The broken invariant is said far above the stack traces; name it last, where it is seen.
    broken=$(grep -m 1 "Fatal error" "$log" || true)
    [[ -z $broken ]] || echo "fuzz: $target: $broken" >&2
    cp "$log" "$crashes/$target.log"
    echo "fuzz: $target: failing input: ${culprit:-(see the log)}" >&2
    echo "fuzz: $target: full log: $crashes/$target.log" >&2
    echo "fuzz: $target: run it again with: $program ${culprit:-INPUT}" >&2
done

if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all targets pass"
