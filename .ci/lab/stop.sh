#!/usr/bin/env bash
# Stop the DNS + HTTPS lab that .ci/lab/start.sh started under STATEDIR.
#
#   .ci/lab/stop.sh STATEDIR
#
# Aborts the two Postfix instances (`postfix -c DIR abort`), sends SIGTERM to knotd, unbound
# and the HTTPS servers (policies, reports) by the pids start.sh recorded in STATEDIR/pids, waits (bounded, 5 s)
# until they are gone, and SIGKILLs stragglers. Touches only those pids. Logs stay in place.
set -uo pipefail

die() { printf 'lab/stop: FAILED: %s\n' "$*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 STATEDIR"
[ -d "$1" ] || exit 0
STATE=$(cd "$1" && pwd)
rm -f "$STATE/lab.env"

pids=()
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
for name in mx wrong; do
  etc=$STATE/postfix/$name/etc
  pidfile=$STATE/postfix/$name/queue/pid/master.pid
  [ -f "$pidfile" ] || pidfile=$STATE/pids/postfix-$name.pid
  [ -f "$pidfile" ] || continue
  pid=$(tr -d ' \n' <"$pidfile")
  alive "$pid" || continue
  postfix -c "$etc" abort >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
  pids+=("$pid")
done
for name in knotd unbound https reports; do
  pidfile=$STATE/pids/$name.pid
  [ -f "$pidfile" ] || continue
  pid=$(tr -d ' \n' <"$pidfile")
  if alive "$pid"; then
    kill -TERM "$pid"
    pids+=("$pid")
  fi
  rm -f "$pidfile"
done

for _ in $(seq 50); do
  still=0
  for pid in "${pids[@]}"; do alive "$pid" && still=1; done
  [ "$still" = 0 ] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do
  if alive "$pid"; then
    printf 'lab/stop: pid %s did not exit; sending SIGKILL\n' "$pid" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
done
printf 'lab/stop: stopped %s lab process(es) under %s\n' "${#pids[@]}" "$STATE" >&2
