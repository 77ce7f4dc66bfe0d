#!/usr/bin/env bash
# Runs the tests most exposed to timing (the browser test of the web UI, the
# cluster tests, the real Alertmanager, the database stopped under load,
# several senders or serves: real processes, ptys, a browser, MariaDB)
# FLAKY_RUNS times in a row with no retry, and prints how many runs of each
# test passed. A test that fails here is a bug, whatever a retry would say.
#   FLAKY_RUNS=20 (default)  FLAKY_FILTER='<nextest filter expression>'
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${FLAKY_RUNS:-20}
# The tests with several processes racing on purpose: the browser, several
# senders, a real Alertmanager, a database stopped under load.
filter=${FLAKY_FILTER:-'binary(integration) & (test(/^web::browser/) | test(/^cluster::/) | test(/^alertmanager::/) | test(/^degraded::/) | test(/^storms::an_urgent_request_overtakes/) | test(/^pager::(two_serves|the_heartbeat_goes_once)/) | test(/^escalation::(two_serves|an_ack_from)/) | test(/^calls::(messages_queued_during|the_call_follows|a_modem_that_stops)/))'}
command -v cargo-nextest >/dev/null 2>&1 || { echo "flaky: needs cargo-nextest (cargo install cargo-nextest)" >&2; exit 2; }

cargo build --tests -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for i in $(seq 1 "$runs"); do
    # --retries 0: this is what CI must survive without the safety net
    if cargo nextest run --retries 0 --no-fail-fast -E "$filter" >"$out/run-$i.log" 2>&1; then
        echo "run $i/$runs: ok"
    else
        echo "run $i/$runs: FAILED (log kept below)"
    fi
done
passed=0 failed=0
declare -A pass fail
# each test's final status, "<STATUS> [time] (k/n) <binary> <test>", from
# the progress lines (not the repeat in the summary)
while read -r status name; do
    case $status in
        PASS) pass[$name]=$(( ${pass[$name]:-0} + 1 )); passed=$((passed + 1)) ;;
        *) fail[$name]=$(( ${fail[$name]:-0} + 1 )); failed=$((failed + 1)) ;;
    esac
done < <(for f in "$out"/run-*.log; do
    awk '/Summary \[/ { exit } /^ +(PASS|FAIL|SIGSEGV|SIGABRT|SIGKILL|TIMEOUT) \[/ { print $1, $NF }' "$f"
done)
for name in $(printf '%s\n' "${!pass[@]}" "${!fail[@]}" | sort -u); do
    printf '%-72s %2d passed, %2d failed\n' "$name" "${pass[$name]:-0}" "${fail[$name]:-0}"
done
for i in $(seq 1 "$runs"); do
    grep -q 'FAIL \[' "$out/run-$i.log" && { echo "--- run $i"; grep -A40 'FAIL \[' "$out/run-$i.log" | head -80; }
done
echo "$passed passed, $failed failed ($runs runs)"
[ "$failed" = 0 ]
