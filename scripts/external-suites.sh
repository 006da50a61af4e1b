#!/usr/bin/env bash
# The suites that need more than Rust. Installs:
#   Node packages (npm ci): targets/node-jose and the targets/lib-node-* library adapters;
#   Python venvs (PyPI): targets/independent-python and the targets/lib-py* adapters;
#   Debian's Go with golang-jwt and go-jose: targets/independent-go and targets/lib-go-jwt;
#   Debian's Ruby with ruby-jwt and WEBrick: targets/lib-ruby-jwt;
#   Debian's Chromium: the browser tests of the HTML reports;
# builds targets/lib-rust-jwt-authorizer (outside the workspace: axum 0.7, jsonwebtoken 9);
# then runs every test with BYOID_EXTERNAL_SUITES=1, under which a missing runtime is a
# failure, never a skip. `.ci/run` runs this script.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null || { echo "external-suites: $1 is required: $2" >&2; exit 1; }; }
need npm "install Node.js 20 or later"
need python3 "install CPython 3.11 or later"

apt_packages=()
command -v chromium >/dev/null || apt_packages+=(chromium)
for p in golang-go golang-github-golang-jwt-jwt-dev golang-gopkg-square-go-jose.v2-dev ruby ruby-jwt ruby-webrick; do
  dpkg -s "$p" >/dev/null 2>&1 || apt_packages+=("$p")
done
if ((${#apt_packages[@]})); then
  need apt-get "install ${apt_packages[*]} with your package manager"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

(cd targets/node-jose && npm ci --no-audit --no-fund && npm test)
(cd targets/lib-node-jsonwebtoken && npm ci --no-audit --no-fund)
(cd targets/lib-node-express-jwt && npm ci --no-audit --no-fund)
targets/independent-python/setup.sh
targets/lib-pyjwt/setup.sh
targets/lib-python-jose/setup.sh
targets/independent-go/build.sh
targets/independent-go/build.sh test
targets/lib-go-jwt/build.sh
targets/lib-go-jwt/build.sh test
targets/lib-ruby-jwt/setup.sh
targets/lib-rust-jwt-authorizer/build.sh

# The README's test command, with the external suites switched on.
BYOID_EXTERNAL_SUITES=1 cargo test --workspace --all-features
