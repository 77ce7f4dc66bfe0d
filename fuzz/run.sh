#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of untrusted input, with cargo-fuzz
# (libFuzzer), each target for a bounded time. `make fuzz` runs this.
#
#   FUZZ_SECONDS=60      seconds per target
#   FUZZ_TARGETS="..."   which targets (default: all of fuzz/fuzz_targets)
#   FUZZ_SANITIZER=none  or address (ASan: 2-4x fewer executions; smss has no
#                        unsafe code, so a memory bug would have to be in std)
#
# Exits non-zero when a target crashes (a panic, a failed assertion) or an
# input runs longer than 10 s; the input is saved in fuzz/artifacts/<target>/
# and `cargo fuzz run <target> <file>` (with RUSTC_BOOTSTRAP=1) replays it.
# Seeds come from fuzz/seeds/<target>/ (committed); what the fuzzer adds
# goes to fuzz/corpus/<target>/ (not committed) and is reused by later runs.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-none}
targets=${FUZZ_TARGETS:-$(cd fuzz/fuzz_targets && ls *.rs | sed 's/\.rs$//')}
cargo=${CARGO:-cargo}

# cargo-fuzz builds with rustc's -Z flags (sanitizer coverage), which only
# a nightly compiler takes; RUSTC_BOOTSTRAP=1 makes the stable one take them.
export RUSTC_BOOTSTRAP=1

if ! $cargo fuzz --version >/dev/null 2>&1; then
    $cargo install cargo-fuzz --locked
fi

# Build every target first, so that the time given is spent fuzzing.
$cargo fuzz build -s "$sanitizer"

logs=fuzz/target/logs
mkdir -p "$logs"
summary=()
failed=0
for t in $targets; do
    corpus=fuzz/corpus/$t
    mkdir -p "$corpus"
    log=$logs/$t.log
    args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
    # The server takes lines up to 16384 bytes (max-line-bytes).
    [ "$t" = request_line ] && args+=(-max_len=16384)
    echo "== $t: fuzzing for $seconds s (log: $log)"
    if $cargo fuzz run -s "$sanitizer" "$t" "$corpus" "fuzz/seeds/$t" -- "${args[@]}" >"$log" 2>&1; then
        result="no crash"
    else
        result="FAILED"
        failed=1
        grep -m1 -A8 -E 'panicked at|ERROR: libFuzzer' "$log" || true
        grep -A2 -E 'Failing input|Reproduce with' "$log" || true
    fi
    grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs' "$log" || true
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    summary+=("$(printf '%-14s %12s executions %8s exec/s  %s' "$t" "${runs:-?}" "${rate:-?}" "$result")")
done

echo
echo "== fuzzing summary ($seconds s per target, sanitizer: $sanitizer)"
printf '%s\n' "${summary[@]}"
exit "$failed"
