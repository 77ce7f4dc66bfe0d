#!/bin/sh
# make demo: the server on embedded defaults (SQLite in a temp dir, the
# simulated modem), one request through the client, the result, then stop.
set -eu
BIN=${BIN:-target/debug/smss}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT INT TERM

echo "== starting: smss serve --demo"
"$BIN" serve --demo --listen 127.0.0.1:0 --log-file "$tmp/smss.log" &
pid=$!
addr=
for _ in $(seq 1 300); do
    addr=$(sed -n 's/.* listening on \([^ ]*\).*/\1/p' "$tmp/smss.log" 2>/dev/null | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "serve exited early" >&2; exit 1; }
    sleep 0.1
done
[ -n "$addr" ] || { echo "serve did not start" >&2; exit 1; }

echo
echo "== sending: smss client -a $addr '#420608337726;Hello from smss#420777123456;Příliš žluťoučký kůň úpěl ďábelské ódy'"
"$BIN" client -a "$addr" '#420608337726;Hello from smss#420777123456;Příliš žluťoučký kůň úpěl ďábelské ódy'

for _ in $(seq 1 100); do
    [ "$(grep -c 'sent message' "$tmp/smss.log")" -ge 2 ] && break
    sleep 0.1
done

echo
echo "== status: smss status"
demo_dir="${TMPDIR:-/tmp}/smss-demo-$pid"
"$BIN" status --config /dev/null --db "sqlite://$demo_dir/smss.db" --device sim --lock-dir "$demo_dir"

echo
echo "== stopping"
kill -TERM "$pid"
wait "$pid"
rm -rf "${TMPDIR:-/tmp}/smss-demo-$pid"
grep -q 'sent message' "$tmp/smss.log" || { echo "demo: the message did not go through" >&2; exit 1; }
echo "demo: done"
