#!/usr/bin/env bash
# Builds kvsql (release), starts kvsql-server on 127.0.0.1:7878 with its data in
# ./kvsql-data, and opens a kvsql session against it. The server stops when you leave the
# session (\q or Ctrl-D). Arguments are passed to kvsql-server (see kvsql-server --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --bins
log=target/kvsql-server.log
# In its own session, so Ctrl-C in the shell (which cancels input) never reaches it.
setsid target/release/kvsql-server "$@" >"$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  grep -q "^listening on" "$log" 2>/dev/null && break
  if ! kill -0 $server 2>/dev/null; then
    echo "kvsql-server did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
address=$(sed -n 's/^listening on //p' "$log" | head -n 1)
echo "kvsql-server is running on $address (log: $log)"
target/release/kvsql --host "${address%:*}" --port "${address##*:}"
