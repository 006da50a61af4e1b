#!/bin/sh
# Compares byoid's load generator with wrk and oha against the same trivial target (a
# 1.4 KB static JSON served by `byoid bench --serve-static`), at the same connection count,
# back to back, in one session. Rounds interleave the three tools so that background load on
# the machine hits all of them alike.
#
#   harness/src/bench/compare-loadgen.sh [BYOID_BIN] [CONNECTIONS] [SECONDS] [ROUNDS]
#
# Needs `wrk` (apt-get install wrk) and `oha` (cargo install oha --locked) on PATH or in
# $WRK / $OHA.
set -eu
BYOID=${1:-target/release/byoid}
CONN=${2:-64}
SECS=${3:-10}
ROUNDS=${4:-1}
WRK=${WRK:-wrk}
OHA=${OHA:-oha}
THREADS=$(nproc)
PORT=${PORT:-18089}
URL="http://127.0.0.1:$PORT/"

"$BYOID" bench --serve-static "$PORT" --duration $((ROUNDS * (SECS * 3 + 10) + 30)) 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 50); do curl -sf -o /dev/null "$URL" && break; sleep 0.1; done

echo "target: byoid bench --serve-static (hyper, 1400-byte JSON), $CONN connections, ${SECS} s each, $THREADS generator threads"
echo "round tool  req/s"
for r in $(seq "$ROUNDS"); do
    b=$("$BYOID" bench --target-url "$URL" --raw-get --connections "$CONN" --threads "$THREADS" --duration "$SECS" 2>/dev/null | awk '$1 == "all" {print $3}')
    echo "$r     byoid $b"
    w=$("$WRK" -t"$THREADS" -c"$CONN" -d"${SECS}s" "$URL" | awk '/^Requests\/sec:/ {print $2}')
    echo "$r     wrk   $w"
    o=$("$OHA" -c "$CONN" -z "${SECS}s" --no-tui "$URL" | awk '/Requests\/sec:/ {print $2}')
    echo "$r     oha   $o"
    echo "$r     ratios byoid/wrk $(echo "$b $w" | awk '{printf "%.2f", $1/$2}')  byoid/oha $(echo "$b $o" | awk '{printf "%.2f", $1/$2}')"
done
