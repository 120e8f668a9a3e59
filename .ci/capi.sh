#!/usr/bin/env bash
# The C ABI: header current, static and shared libraries, pkg-config file, C examples built
# against both, and tests/capi_examples.rs (hostile calls, Exim dlfunc, the milter behind the
# real Postfix) plain, under Valgrind and with AddressSanitizer.
#
# Run from a clean clone as root after the peers are started (MAILTLS_PEERS_ENV set), or from
# .ci/run. Any failure fails the script. cargo-c installs into <cargo target dir>/capi
# (target/capi by default) with the README's own commands: lib/ (libmailtls.so.0.1,
# libmailtls.a, pkgconfig/mailtls.pc), include/mailtls/mailtls.h; the test builds go there too.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

CBINDGEN_VERSION=0.29.4
CARGO_C_VERSION=0.10.24+cargo-0.98.0
started=$(date +%s)
note() { printf -- '--- %s  (+%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
fail() { printf '\nCAPI FAILED: %s\n' "$*" >&2; exit 1; }

note "cbindgen $CBINDGEN_VERSION (pinned: point releases differ in output)"
if [ "$(cbindgen --version 2>/dev/null | awk '{print $2}')" != "$CBINDGEN_VERSION" ]; then
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked
fi
for tool in gcc make valgrind pkg-config; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
[ -f /usr/include/libmilter/mfapi.h ] || fail "libmilter-dev is not installed (.ci/peers/install.sh installs it)"

note "include/mailtls.h is what cbindgen generates"
generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
cbindgen --quiet --config cbindgen.toml --output "$generated" src/ffi/mod.rs
if ! cmp -s "$generated" include/mailtls.h; then
  diff -u include/mailtls.h "$generated" | head -n 60 >&2 || true
  fail "include/mailtls.h is stale: run cbindgen --config cbindgen.toml --output include/mailtls.h src/ffi/mod.rs"
fi

note "cargo-c $CARGO_C_VERSION (pinned, like cbindgen)"
if [ "$(cargo cinstall --version 2>/dev/null | awk '{print $2}')" != "$CARGO_C_VERSION" ]; then
  cargo install cargo-c --version "$CARGO_C_VERSION" --locked
fi

# <target>/capi is the install prefix: lib/ (libmailtls.so.0.1 + SONAME, libmailtls.a,
# pkgconfig/mailtls.pc) and include/mailtls/mailtls.h, where tests/capi_examples.rs looks.
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
out="$target/capi"
mkdir -p "$out"

note "the README's install commands, PREFIX=$out"
# The block after the README's marker comment, run as written (from another directory).
readme_block=$(awk '/^<!-- .ci\/capi.sh runs the next block -->$/ {armed=1; next}
  armed && /^```sh$/ {inside=1; next}
  inside && /^```$/ {exit}
  inside {print}' README.md)
[ -n "$readme_block" ] || fail "README.md has no install block after its .ci/capi.sh marker"
printf '%s\n' "$readme_block" | sed 's/^/    /'
readme_out=$(PREFIX="$out" bash -euo pipefail -c "$readme_block" 2>&1) \
  || { printf '%s\n' "$readme_out" >&2; fail "the README's install commands failed"; }
printf '%s\n' "$readme_out" | tail -n 3
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
[ "$(printf '%s\n' "$readme_out" | tail -n 1)" = "$version" ] \
  || fail "the program built against the installed library did not print $version"
# The SONAME carries the semver-compatible part of the version: MAJOR, or 0.MINOR before 1.0.
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if [ "$major" = 0 ]; then abi="0.$minor"; else abi=$major; fi
soname=$(readelf -d "$out/lib/libmailtls.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libmailtls.so.$abi" ] || fail "SONAME is '$soname', expected libmailtls.so.$abi"
[ -f "$out/lib/libmailtls.so.$abi" ] || fail "no $out/lib/libmailtls.so.$abi"
[ -f "$out/lib/libmailtls.a" ] || fail "no static library in $out/lib"
[ -f "$out/include/mailtls/mailtls.h" ] || fail "no header in $out/include/mailtls"
cmp -s include/mailtls.h "$out/include/mailtls/mailtls.h" || fail "the installed header differs"
export PKG_CONFIG_PATH="$out/lib/pkgconfig"
pkg-config --exists --print-errors mailtls
grep -q "^prefix=$out\$" "$out/lib/pkgconfig/mailtls.pc" || fail "mailtls.pc does not name the prefix"
# Statically, with nothing but pkg-config's flags.
gcc -std=c11 -Wall -Werror -o "$out/pkg-config-static" examples/c/hostile.c \
  $(pkg-config --cflags mailtls) "$out/lib/libmailtls.a" $(pkg-config --libs-only-l --static mailtls | sed 's/-lmailtls//')
"$out/pkg-config-static" >/dev/null

note "C examples compile against both libraries"
make -s -C examples/c LIBDIR="$out/lib" INCLUDE="$out/include/mailtls" OUT="$out/examples"

# .ci/run sets MAILTLS_CAPI_RUN_TESTS=0: its final test command runs capi_examples anyway,
# finding the libraries in <target>/capi/lib, so running them here too would cost minutes.
if [ "${MAILTLS_CAPI_RUN_TESTS:-1}" = 1 ]; then
  note "tests/capi_examples.rs: C examples static, shared, Valgrind, ASan"
  export MAILTLS_CAPI_LIBDIR="$out/lib"
  cargo test --quiet --features capi,sqlite,redis --test capi_examples -- --test-threads 2
else
  note "tests/capi_examples.rs runs with the README's test command"
fi

note "done"
