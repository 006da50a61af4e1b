#!/usr/bin/env bash
# Regenerates the published library matrix, reports/libraries/ (see reports/libraries/README.md):
#
#   reports/libraries/NAME/      one run of each library adapter (targets/lib-*), NAME from its
#                                library.toml: report.json (without timings), junit.xml,
#                                summary.md, report.html, report.sarif
#   reports/libraries/matrix.html  every adapter side by side, the clean reference first
#   reports/libraries/FINDINGS.md  every case a library fails or warns, why, the fix, and the
#                                command that reproduces it (`byoid report findings`)
#
# Usage, from anywhere in the repository:
#
#   scripts/regenerate-libraries.sh
#
# Each adapter is installed by the `setup` its library.toml names (npm, a Python venv,
# Debian's Go and Ruby packages: scripts/external-suites.sh installs the runtimes), then run
# with seed 0 and the header tenant source. Two runs of this script write the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p byoid
BYOID="${CARGO_TARGET_DIR:-$PWD/target}/release/byoid"
. scripts/publish-run.sh
OUT=reports/libraries
mkdir -p "$OUT"

# field FILE KEY: a top-level string of a library.toml.
field() {
  python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))[sys.argv[2]])' "$1" "$2"
}

# The order of the matrix's columns and of the findings page: by language, then name.
mapfile -t notes < <(
  for f in targets/lib-*/library.toml; do
    printf '%s\t%s\t%s\n' "$(field "$f" language)" "$(field "$f" name)" "$f"
  done | LC_ALL=C sort | cut -f3
)

reports=()
for f in "${notes[@]}"; do
  name="$(field "$f" name)"
  setup="$(field "$f" setup)"
  cmd="$(field "$f" target_cmd)"
  if [ -n "$setup" ]; then
    setup_log="$(mktemp)"
    if ! (eval "$setup") >"$setup_log" 2>&1; then
      cat "$setup_log" >&2
      echo "error: the setup of $name failed: $setup" >&2
      exit 1
    fi
    rm -f "$setup_log"
  fi
  dir="$OUT/$name"
  publish_run "$dir" --target-cmd "$cmd"
  reports+=("$dir/report.json")
done

"$BYOID" report matrix reports/reference/report.json "${reports[@]}" -o "$OUT/matrix.html" >/dev/null
echo "wrote $OUT/matrix.html"
"$BYOID" report findings "${notes[@]}" --reports "$OUT" -o "$OUT/FINDINGS.md" >/dev/null
echo "wrote $OUT/FINDINGS.md"
