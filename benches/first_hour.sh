#!/usr/bin/env bash
# The first hour of a new user, measured: from a fresh clone with a cold target directory (the
# crate registry already downloaded), the wall time of the README's two set-up commands, run in
# the order the README gives them (the tour, then the tests, in the same clone).
#
#   benches/first_hour.sh [REV...]      # default: HEAD
#
# Each REV is cloned into a temporary directory and its own README's commands are run, so an old
# revision is measured with the commands it documented. Give the baseline first to compare, e.g.
# `benches/first_hour.sh 6b13718 HEAD`: the revisions run one after the other in this one run,
# on the same machine. Prints one line per revision and command; not a test.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
revs=("$@")
[ ${#revs[@]} -gt 0 ] || revs=(HEAD)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for rev in "${revs[@]}"; do
    sha=$(git -C "$repo" rev-parse --short "$rev")
    dir="$work/$sha"
    git clone --quiet "$repo" "$dir"
    git -C "$dir" checkout --quiet "$sha"
    # The two commands are the first two lines of the README's first ```sh block.
    mapfile -t commands < <(awk '/^```sh$/ {inside = 1; next} inside && /^```$/ {exit}
        inside {sub(/ +#.*$/, ""); print}' "$dir/README.md" | head -n 2)
    for command in "${commands[@]}"; do
        start=$(date +%s.%N)
        if (cd "$dir" && unset CARGO_TARGET_DIR && bash -c "$command") >"$dir.log" 2>&1; then
            outcome=ok
        else
            outcome="FAILED (log: kept below)"
        fi
        end=$(date +%s.%N)
        printf '%-9s %-48s %6.1f s  %s\n' "$sha" "$command" "$(awk "BEGIN {print $end - $start}")" "$outcome"
        if [ "$outcome" != ok ]; then tail -n 30 "$dir.log"; fi
    done
    rm -rf "$dir"
done
