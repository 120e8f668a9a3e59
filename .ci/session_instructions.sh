#!/usr/bin/env bash
# Instructions per delivery, mailtls's ClientSession vs a bare rustls client doing the same
# dialogue against the same scripted server (benches/session.rs), counted by callgrind: each
# side runs N1 and N2 deliveries in one process; (I(N2) - I(N1)) / (N2 - N1) is one delivery,
# with the fixture (key generation) and one-time setup cancelled out.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cargo bench --bench session --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
n1=${N1:-5}
n2=${N2:-25}
count() {
    SESSION_ONLY=$1 SESSION_ITERS=$2 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$bin" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
# The WebPKI-verifier pair, then the `encrypt` pair (mailtls's own verifier per attempt vs an
# anchor that accepts any certificate).
for side in mailtls bare mailtls-encrypt bare-encrypt; do
    a=$(count "$side" "$n1")
    b=$(count "$side" "$n2")
    echo "$side $(((b - a) / (n2 - n1)))"
done | awk '{ v[$1] = $2; printf "%s: %d instructions per delivery\n", $1, $2 }
    END {
        printf "session instructions mailtls/bare (webpki verifier) = %.3f\n", v["mailtls"] / v["bare"]
        printf "session instructions mailtls/bare (encrypt) = %.3f\n", v["mailtls-encrypt"] / v["bare-encrypt"]
    }'
