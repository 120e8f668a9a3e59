#!/usr/bin/env bash
# Starts the Redis server the state-store tests use: 127.0.0.1:2558, nothing saved to disk.
# Usage: bash .ci/store/start.sh DIR   (pid file and log go to DIR; stop with stop.sh DIR)
# Port 2558: 2501-2556 belong to the mail peers and the lab, 2557 to the C ABI tests.
set -euo pipefail
dir="${1:?usage: start.sh DIR}"
port="${MAILTLS_REDIS_PORT:-2558}"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
  echo "redis-server already running (pid $(cat "$dir/redis.pid"))"
  exit 0
fi
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
for _ in $(seq 1 50); do
  if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then
    echo "MAILTLS_REDIS_URL=redis://127.0.0.1:$port" > "$dir/store.env"
    echo "redis-server up on 127.0.0.1:$port (pid $(cat "$dir/redis.pid"))"
    exit 0
  fi
  sleep 0.1
done
echo "redis-server did not come up on 127.0.0.1:$port; log:" >&2
tail -n 20 "$dir/redis.log" >&2 || true
exit 1
