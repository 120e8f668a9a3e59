#!/usr/bin/env bash
# Stops the Redis server start.sh started in DIR, by its pid file.
set -euo pipefail
dir="${1:?usage: stop.sh DIR}"
if [ -f "$dir/redis.pid" ]; then
  pid=$(cat "$dir/redis.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$dir/redis.pid"
fi
