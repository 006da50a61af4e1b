#!/usr/bin/env bash
# Builds the jwt-authorizer adapter (release) from its committed Cargo.lock, outside the byoid
# workspace (it is on axum 0.7 and jsonwebtoken 9). The binary lands in
# $CARGO_TARGET_DIR/release/byoid-lib-jwt-authorizer, by default
# targets/lib-rust-jwt-authorizer/target/release/, the path library.toml runs.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked
version() { cargo pkgid --locked "$1" | sed 's/.*[@#]//'; }
echo "built $CARGO_TARGET_DIR/release/byoid-lib-jwt-authorizer:" \
  "jwt-authorizer $(version jwt-authorizer), jsonwebtoken $(version jsonwebtoken)"
