#!/bin/sh
# make demo: the server on embedded defaults (SQLite in a temp dir, the
# simulated modem), one request through the client, the result, then stop.
set -eu
BIN=${BIN:-target/debug/smss}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT INT TERM

echo "== starting: smss serve --demo"
# its files in a directory of its own under TMPDIR, removed when it stops
TMPDIR="$tmp" "$BIN" serve --demo --listen 127.0.0.1:0 --web-listen 127.0.0.1:0 --log-file "$tmp/smss.log" &
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

web=$(sed -n 's/.* web UI on \(http:[^ ]*\).*/\1/p' "$tmp/smss.log" | head -n 1)
echo
echo "== web interface: $web (in a browser, while serve --demo runs)"
if command -v curl >/dev/null 2>&1 && [ -n "$web" ]; then
    echo "== curl ${web}api/messages"
    curl -fsS "${web}api/messages"
fi

echo
echo "== status: smss status"
demo_dir=$(ls -d "$tmp"/smss-demo-*)
"$BIN" status --config /dev/null --db "sqlite://$demo_dir/smss.db" --device sim --lock-dir "$demo_dir"

echo
echo "== stopping"
kill -TERM "$pid"
wait "$pid"
[ ! -e "$demo_dir" ] || { echo "demo: serve left $demo_dir behind" >&2; exit 1; }
grep -q 'sent message' "$tmp/smss.log" || { echo "demo: the message did not go through" >&2; exit 1; }
echo "demo: done"
