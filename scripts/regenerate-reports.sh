#!/usr/bin/env bash
# Regenerates the published reports in reports/ (see reports/README.md):
#
#   reports/reference/               the built-in reference validator, clean (also with the path
#       and subdomain tenant sources and over HTTPS: reports/reference-{path,subdomain,tls}/)
#   reports/defect-alg-from-header/  the reference with the `alg-from-header` defect planted
#   reports/defect-no-audience-check/ the reference with the `no-audience-check` defect planted
#   reports/node-jose/               the Node adapter on panva's jose (targets/node-jose)
#   reports/orders-api/              an API with routes of its own, through its profile
#       (targets/orders-api): the cases it lacks the capabilities for are not applicable
#   reports/independent-go/          the independent Go validator (targets/independent-go)
#   reports/independent-python/      the independent Python validator (targets/independent-python)
#       each with report.json, junit.xml, summary.md, report.html, report.sarif; the two
#       independent validators also with the path and subdomain tenant sources and over HTTPS
#       (reports/independent-*-{path,subdomain,tls}/)
#   reports/matrix.html              the header-source runs side by side (`byoid report matrix`)
#   reports/matrix.png               a Chromium screenshot of the matrix
#   reports/libraries/               the library matrix (scripts/regenerate-libraries.sh, run last)
#
# Usage, from anywhere in the repository:
#
#   scripts/regenerate-reports.sh
#
# Needs cargo, node/npm (for the Node adapter), python3 and Debian's Go packages (for the
# independent validators; scripts/external-suites.sh installs them), jq or python3, and
# Debian's chromium for the screenshot (without it the PNG is left as it was).
#
# Everything is run with seed 0, so every file but matrix.png comes out byte for byte the
# same on every run: report.json is published without its `timings` (wall times), which are
# the only part of a report that changes between two runs of the same seed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p byoid
# Built alone, as the `cargo run` below builds it: then that run starts at once.
cargo build --release --quiet -p byoid-orders-api
BYOID="${CARGO_TARGET_DIR:-$PWD/target}/release/byoid"
OUT=reports
mkdir -p "$OUT"

# publish_run DIR ARGS...: one seed-0 catalog run into DIR (scripts/publish-run.sh).
. scripts/publish-run.sh
run() {
  local name="$1"
  shift
  publish_run "$OUT/$name" "$@"
}

run reference
run reference-path --tenant-source path
run reference-subdomain --tenant-source subdomain
run reference-tls --tls
run defect-alg-from-header --defect alg-from-header
run defect-no-audience-check --defect no-audience-check

# `cargo run`, not the binary's path: the report names the command, and a path would differ
# from machine to machine.
run orders-api --profile targets/orders-api/orders.profile.toml \
  --target-cmd 'cargo run --quiet --release -p byoid-orders-api'

(cd targets/node-jose && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
run node-jose --target-cmd 'node targets/node-jose/server.js'

targets/independent-python/setup.sh >/dev/null
targets/independent-go/build.sh >/dev/null
for v in independent-go independent-python; do
  case "$v" in
    independent-go) cmd='exec targets/independent-go/bin/byoid-independent-go' ;;
    independent-python) cmd='exec targets/independent-python/.venv/bin/python targets/independent-python/server.py' ;;
  esac
  run "$v" --target-cmd "$cmd"
  run "$v-path" --target-cmd "$cmd" --tenant-source path
  run "$v-subdomain" --target-cmd "$cmd" --tenant-source subdomain
  run "$v-tls" --target-cmd "$cmd" --tls
done

"$BYOID" report matrix \
  "$OUT/reference/report.json" \
  "$OUT/defect-alg-from-header/report.json" \
  "$OUT/defect-no-audience-check/report.json" \
  "$OUT/node-jose/report.json" \
  "$OUT/independent-go/report.json" \
  "$OUT/independent-python/report.json" \
  "$OUT/orders-api/report.json" \
  -o "$OUT/matrix.html" >/dev/null
echo "wrote $OUT/matrix.html"

if [ -x /usr/bin/chromium ]; then
  profile="$(mktemp -d)"
  /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-background-networking --disable-component-update --disable-sync --no-first-run \
    --hide-scrollbars --user-data-dir="$profile" \
    --screenshot="$PWD/$OUT/matrix.png" --window-size=1400,1000 \
    "file://$PWD/$OUT/matrix.html" >/dev/null 2>&1
  rm -rf "$profile"
  echo "wrote $OUT/matrix.png"
else
  echo "warning: /usr/bin/chromium not found (apt-get install -y chromium); $OUT/matrix.png not updated" >&2
fi

scripts/regenerate-libraries.sh
