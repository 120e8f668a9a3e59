#!/bin/bash -eu
# OSS-Fuzz build script: build every cargo-fuzz target with the sanitizer OSS-Fuzz selects
# (its nightly toolchain and RUSTFLAGS come from the base image) and copy the binaries to $OUT.
cd "$SRC/mailtls/fuzz"
cargo fuzz build -O
for target in $(cargo fuzz list); do
  cp "target/x86_64-unknown-linux-gnu/release/$target" "$OUT/"
done
