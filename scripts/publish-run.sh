# Sourced by scripts/regenerate-reports.sh and scripts/regenerate-libraries.sh: one published
# run. Needs $BYOID (the byoid binary), and jq or python3.

# Drops `timings` from a report.json, in place: wall times are the only part of a report that
# changes between two runs of the same seed.
strip_timings() {
  local f="$1"
  if command -v jq >/dev/null 2>&1; then
    jq --indent 2 'del(.timings)' "$f" >"$f.tmp"
  else
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]), object_pairs_hook=dict); r.pop("timings",None); print(json.dumps(r, indent=2, ensure_ascii=False))' "$f" >"$f.tmp"
  fi
  mv "$f.tmp" "$f"
}

# publish_run DIR ARGS...: `byoid scenarios --seed 0` with ARGS into DIR (emptied first),
# console output to a scratch file; prints the run's summary line under DIR's name.
publish_run() {
  local dir="$1"
  shift
  local name log rc=0
  name="$(basename "$dir")"
  log="$(mktemp)"
  rm -rf "$dir"
  "$BYOID" scenarios --seed 0 --color never --report-dir "$dir" "$@" >"$log" 2>&1 || rc=$?
  # Exit 100 means "some cases failed": that is the point of the defect and library runs (and
  # an adapter may miss a case or two), so it is not an error here. Anything else is.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 100 ]; then
    cat "$log" >&2
    echo "error: byoid scenarios for $name exited $rc" >&2
    rm -f "$log"
    exit "$rc"
  fi
  echo "$name: $(grep '^Summary:' "$log" || echo 'no summary')"
  rm -f "$log"
  strip_timings "$dir/report.json"
}
