#!/usr/bin/env bash
# Checks that every dependency `cargo build` compiles gets the same features under `cargo test`. The
# dev-dependencies can turn on a feature of a shared crate (bitflags' `std`, rxing's `encoders`); that crate
# is then compiled twice, with everything that depends on it up to idv itself, and a clean `make test` pays
# for it in minutes. Cargo.toml asks for such features among the normal dependencies instead; this says
# which crate needs it when a dependency change brings a new one. Part of `make lint`.
set -euo pipefail
cd "$(dirname "$0")/../.."

packages_with_features() {
  cargo tree --locked --quiet -e "$1" --prefix none -f '{p} [{f}]' | sed 's/ (\*)$//' | sort -u
}

# Lines only on the left: a package `cargo build` compiles with other features than `cargo test` does.
diverging="$(comm -23 <(packages_with_features normal,build) <(packages_with_features normal,build,dev))"
if [ -n "$diverging" ]; then
  echo "feature_parity: cargo test compiles these with other features than cargo build:" >&2
  printf '%s\n' "$diverging" >&2
  echo "feature_parity: add the features cargo test turns on to the [dependencies] entry (Cargo.toml, bitflags)." >&2
  exit 1
fi
echo "feature_parity: cargo build and cargo test compile every shared dependency with the same features"
