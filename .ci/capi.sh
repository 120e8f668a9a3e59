#!/usr/bin/env bash
# The C ABI: header current, static and shared libraries, pkg-config file, C examples built
# against both, and tests/capi_examples.rs (hostile calls, Exim dlfunc, the milter behind the
# real Postfix) plain, under Valgrind and with AddressSanitizer.
#
# Run from a clean clone as root after the peers are started (MAILTLS_PEERS_ENV set), or from
# .ci/run. Any failure fails the script. Outputs go to <cargo target dir>/capi (target/capi
# by default): lib/ (libmailtls.a, libmailtls.so, mailtls.pc) and the test builds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

CBINDGEN_VERSION=0.29.4
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

note "static and shared libraries (feature capi)"
# The library file cargo reports (wherever the target dir is).
build_lib() {
  cargo rustc --quiet --lib --features capi --crate-type "$1" \
      --message-format=json-render-diagnostics |
    grep -o "\"[^\"]*/libmailtls\.$2\"" | tr -d '"' | tail -n 1
}
static_lib=$(build_lib staticlib a)
shared_lib=$(build_lib cdylib so)
[ -f "$static_lib" ] && [ -f "$shared_lib" ] || fail "cargo reported no libmailtls.a / libmailtls.so"
# <target>/debug/libmailtls.a -> <target>/capi, where tests/capi_examples.rs looks.
out="$(dirname "$(dirname "$static_lib")")/capi"
mkdir -p "$out/lib"
cp "$static_lib" "$shared_lib" "$out/lib/"

note "pkg-config file"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
cat > "$out/lib/mailtls.pc" <<PC
prefix=$out
libdir=\${prefix}/lib
includedir=$root/include

Name: mailtls
Description: Transport TLS for mail servers (C API)
Version: $version
Libs: -L\${libdir} -lmailtls
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
Cflags: -I\${includedir}
PC
PKG_CONFIG_PATH="$out/lib" pkg-config --exists --print-errors mailtls
# A program built with nothing but pkg-config's flags links and runs.
PKG_CONFIG_PATH="$out/lib" gcc -std=c11 -Wall -Werror -o "$out/pkg-config-check" \
  examples/c/hostile.c $(PKG_CONFIG_PATH="$out/lib" pkg-config --cflags --libs mailtls) \
  -Wl,-rpath,"$out/lib"
"$out/pkg-config-check" >/dev/null

note "C examples compile against both libraries"
make -s -C examples/c LIBDIR="$out/lib" OUT="$out/examples"

# .ci/run sets MAILTLS_CAPI_RUN_TESTS=0: its final test command runs capi_examples anyway,
# finding the libraries in <target>/capi/lib, so running them here too would cost minutes.
if [ "${MAILTLS_CAPI_RUN_TESTS:-1}" = 1 ]; then
  note "tests/capi_examples.rs: C examples static, shared, Valgrind, ASan"
  export MAILTLS_CAPI_LIBDIR="$out/lib"
  cargo test --quiet --features capi --test capi_examples -- --test-threads 2
else
  note "tests/capi_examples.rs runs with the README's test command"
fi

note "done"
