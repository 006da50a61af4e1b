#!/bin/sh
# Compares byoid's load generator with wrk and oha against the same trivial target (a
# 1.4 KB static JSON served by the lab example's `serve`), at the same connection count,
# back to back, in one session. Rounds interleave the three tools so that background load on
# the machine hits all of them alike. The lab example (harness/examples/loadgen_lab.rs) runs
# `byoid bench`'s generator with bare GETs (`get`); without LAB_BIN it is built in release.
#
#   scripts/compare-loadgen.sh [LAB_BIN] [CONNECTIONS] [SECONDS] [ROUNDS]
#
# Needs `wrk` (apt-get install wrk) and `oha` (cargo install oha --locked) on PATH or in
# $WRK / $OHA.
set -eu
if [ $# -ge 1 ]; then
    LAB=$1
else
    cargo build --release -p byoid --example loadgen_lab
    LAB=${CARGO_TARGET_DIR:-target}/release/examples/loadgen_lab
fi
CONN=${2:-64}
SECS=${3:-10}
ROUNDS=${4:-1}
WRK=${WRK:-wrk}
OHA=${OHA:-oha}
THREADS=$(nproc)
PORT=${PORT:-18089}
URL="http://127.0.0.1:$PORT/"

"$LAB" serve --port "$PORT" --duration $((ROUNDS * (SECS * 3 + 10) + 30)) 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 50); do curl -sf -o /dev/null "$URL" && break; sleep 0.1; done

echo "target: loadgen_lab serve (hyper, 1400-byte JSON), $CONN connections, ${SECS} s each, $THREADS generator threads"
# Besides req/s, each tool's own CPU time per answer (user+sys, /usr/bin/time): the part of
# the two cores a generator takes away from the target, and the steadier of the two figures
# on a machine shared with other work.
cpu_us() { awk -v n="$2" '{printf "%.2f", ($1 + $2) * 1e6 / n}' "$1"; }
echo "round tool  req/s        answers   generator CPU us/answer"
for r in $(seq "$ROUNDS"); do
    set -- $(/usr/bin/time -f "%U %S" -o /tmp/cmp-cpu.b "$LAB" get "$URL" --connections "$CONN" --threads "$THREADS" --duration "$SECS" 2>/dev/null | awk '$1 == "all" {print $3, $2}')
    b=$1; echo "$r     byoid $1  $2  $(cpu_us /tmp/cmp-cpu.b "$2")"
    set -- $(/usr/bin/time -f "%U %S" -o /tmp/cmp-cpu.w "$WRK" -t"$THREADS" -c"$CONN" -d"${SECS}s" "$URL" | awk '/^Requests\/sec:/ {r = $2} / requests in / {n = $1} END {print r, n}')
    w=$1; echo "$r     wrk   $1  $2  $(cpu_us /tmp/cmp-cpu.w "$2")"
    set -- $(/usr/bin/time -f "%U %S" -o /tmp/cmp-cpu.o "$OHA" -c "$CONN" -z "${SECS}s" --no-tui "$URL" | awk '/Requests\/sec:/ {r = $2} /\[200\] / {n = $2} END {print r, n}')
    o=$1; echo "$r     oha   $1  $2  $(cpu_us /tmp/cmp-cpu.o "$2")"
    echo "$r     ratios byoid/wrk $(echo "$b $w" | awk '{printf "%.2f", $1/$2}')  byoid/oha $(echo "$b $o" | awk '{printf "%.2f", $1/$2}')"
done
