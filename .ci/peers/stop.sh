#!/usr/bin/env bash
# Stop the real mail peers that .ci/peers/start.sh started under STATEDIR.
#
#   .ci/peers/stop.sh STATEDIR
#
# Aborts each private Postfix instance (`postfix -c DIR abort`, no one-second polling) and
# kills each Exim daemon (server, relay) by its pid file; then waits (bounded) until their processes are gone, so
# that start.sh can bind the same ports again. Leaves logs, Maildirs and the PKI in place.
# Touches only processes whose pid files lie under STATEDIR.
set -uo pipefail

die() { printf 'peers/stop: FAILED: %s\n' "$*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 STATEDIR"
[ -d "$1" ] || exit 0
STATE=$(cd "$1" && pwd)
rm -f "$STATE/peers.env"

pids=()
for etc in "$STATE"/postfix/*/etc; do
  [ -f "$etc/main.cf" ] || continue
  pidfile=$(dirname "$etc")/queue/pid/master.pid
  [ -f "$pidfile" ] || continue
  pid=$(tr -d ' \n' <"$pidfile")
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then continue; fi
  postfix -c "$etc" abort >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
  pids+=("$pid")
done

for exim_pidfile in "$STATE/exim/exim.pid" "$STATE/exim-relay/exim.pid"; do
  [ -f "$exim_pidfile" ] || continue
  pid=$(tr -d ' \n' <"$exim_pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    pids+=("$pid")
  fi
  rm -f "$exim_pidfile"
done

# Bounded wait (5 s), then SIGKILL what is left.
for _ in $(seq 50); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do
  if kill -0 "$pid" 2>/dev/null; then
    printf 'peers/stop: pid %s did not exit; sending SIGKILL\n' "$pid" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
done
printf 'peers/stop: stopped %s peer process(es) under %s\n' "${#pids[@]}" "$STATE" >&2
