#!/usr/bin/env bash
# Installs what sts needs, builds it (release), and runs it.
#
# The daemon sts-socketmapd is not built yet; until it is, this runs the stages that exist on the
# domains given as arguments (default: a few well-known domains that publish MTA-STS), in input
# order, and prints one JSON record per domain.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build -c release >&2
bin=$(swift build -c release --show-bin-path)

domains=("$@")
if ((${#domains[@]} == 0)); then domains=(gmail.com outlook.com yahoo.com example.com); fi

stages=("$bin/sts-dns" --ordered)
if [[ -x "$bin/sts-fetch" ]]; then
    printf '%s\n' "${domains[@]}" | "${stages[@]}" | "$bin/sts-fetch" --ordered | "$bin/sts-parse" --ordered
else
    printf '%s\n' "${domains[@]}" | "${stages[@]}" | "$bin/sts-parse" --ordered
fi
