#!/usr/bin/env bash
# Builds the jwt-authorizer adapter (release) from its committed Cargo.lock, outside the byoid
# workspace (it is on axum 0.7 and jsonwebtoken 9). The binary lands in
# targets/lib-rust-jwt-authorizer/target/release/byoid-lib-jwt-authorizer, the path
# library.toml and harness/tests/libraries.rs run, whatever CARGO_TARGET_DIR says: its
# dependencies are not the workspace's, so a shared target dir would save nothing.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="$PWD/target"
cargo build --release --locked
version() { cargo pkgid --locked "$1" | sed 's/.*[@#]//'; }
echo "built $CARGO_TARGET_DIR/release/byoid-lib-jwt-authorizer:" \
  "jwt-authorizer $(version jwt-authorizer), jsonwebtoken $(version jsonwebtoken)"
