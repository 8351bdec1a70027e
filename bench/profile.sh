#!/usr/bin/env bash
# Profiles the send and receive paths of one 1 -> K run: the subscriber(s) and the
# sender each run under `perf record -g` (user + kernel, needs root or
# perf_event_paranoid <= 1) and `perf stat` (system calls, context switches), then
# prints the top functions (self and inclusive) of each side.
#
#   bench/profile.sh [--messages N] [--size S] [--subs K] [--regexps R] [--mode thread|loop]
#   bench/profile.sh --rtt [--messages N]     (request/reply: requester and echo)
#
# Output under target/bench-prof/. Without perf, falls back to valgrind --tool=callgrind
# on the sender (user space only, a shorter run).
set -euo pipefail
cd "$(dirname "$0")/.."

N=300000 SIZE=20 SUBS=1 REGEXPS=1 MODE=thread TOP=25 RTT=
while [ $# -gt 0 ]; do
    case "$1" in
        --rtt) RTT=1; shift ;;
        --messages) N=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --subs) SUBS=$2; shift 2 ;;
        --regexps) REGEXPS=$2; shift 2 ;;
        --mode) MODE=$2; shift 2 ;;
        --top) TOP=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

cargo build --release --bin ivy-bench >&2
BIN=$PWD/target/release/ivy-bench
OUT=$PWD/target/bench-prof
mkdir -p "$OUT"
PORT=$((30000 + $$ % 20000))
BUS=127.255.255.255:$PORT
# Window and ack interval as the orchestrator computes them (about 4 MiB in flight).
WINDOW=$(( (4 << 20) / (SIZE + 8) )); [ $WINDOW -gt 65536 ] && WINDOW=65536; [ $WINDOW -lt 256 ] && WINDOW=256
ACK=$(( WINDOW / 8 ))
TAG="${SUBS}x${SIZE}B-r${REGEXPS}-${MODE}"
EVENTS=syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_poll,syscalls:sys_enter_futex,syscalls:sys_enter_sched_yield,context-switches,task-clock

top() { # file title
    echo "== $2: self time"
    # (head closes the pipe early: not an error)
    perf report -i "$1" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -"$TOP" || true
    echo "== $2: inclusive time"
    perf report -i "$1" --children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -"$TOP" || true
}

if [ -n "$RTT" ]; then
    perf record -F 4999 -g -o "$OUT/rec-echo.data" -- perf stat -e "$EVENTS" -o "$OUT/stat-echo.txt" \
        "$BIN" --role rtt-echo --bus "$BUS" >"$OUT/result-echo.txt" 2>/dev/null &
    echo_pid=$!
    perf record -F 4999 -g -o "$OUT/rec-req.data" -- perf stat -e "$EVENTS" -o "$OUT/stat-req.txt" \
        "$BIN" --role rtt-req --bus "$BUS" --count "$N" >"$OUT/result-req.txt" 2>/dev/null
    wait $echo_pid
    cat "$OUT/result-req.txt" "$OUT/result-echo.txt"
    for side in req echo; do
        echo "== $side: system calls and switches for $N round trips"
        grep -E 'syscalls|context|task-clock|seconds (user|sys)' "$OUT/stat-$side.txt" || true
        top "$OUT/rec-$side.data" "$side"
    done
elif command -v perf >/dev/null && perf record -o /dev/null -g -- true 2>/dev/null; then
    pids=()
    for i in $(seq 0 $((SUBS - 1))); do
        rec=(perf stat -e "$EVENTS" -o "$OUT/stat-sub-$TAG-$i.txt")
        [ "$i" = 0 ] && rec=(perf record -F 4999 -g -o "$OUT/rec-sub-$TAG.data" -- "${rec[@]}")
        "${rec[@]}" "$BIN" --role sub --bus "$BUS" --index "$i" --count "$N" --regexps "$REGEXPS" --ack "$ACK" \
            >"$OUT/result-sub-$TAG-$i.txt" 2>/dev/null &
        pids+=($!)
    done
    sleep 0.5
    perf record -F 4999 -g -o "$OUT/rec-send-$TAG.data" -- perf stat -e "$EVENTS" -o "$OUT/stat-send-$TAG.txt" \
        "$BIN" --role send --bus "$BUS" --subs "$SUBS" --count "$N" --size "$SIZE" --regexps "$REGEXPS" \
        --window "$WINDOW" --mode "$MODE" >"$OUT/result-send-$TAG.txt" 2>/dev/null
    wait "${pids[@]}"
    cat "$OUT/result-send-$TAG.txt" "$OUT/result-sub-$TAG-0.txt"
    for side in send sub; do
        f="$OUT/stat-$side-$TAG.txt"
        [ "$side" = sub ] && f="$OUT/stat-sub-$TAG-0.txt"
        echo "== $side: system calls and switches for $N messages"
        grep -E 'syscalls|context|task-clock|seconds (user|sys)' "$f" || true
        top "$OUT/rec-$side-$TAG.data" "$side"
    done
else
    echo "perf unavailable: callgrind on the sender (user space only)" >&2
    N=$((N / 10))
    "$BIN" --role sub --bus "$BUS" --index 0 --count "$N" --regexps "$REGEXPS" --ack "$ACK" >/dev/null &
    sub=$!
    sleep 0.5
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind-send-$TAG.out" \
        "$BIN" --role send --bus "$BUS" --subs 1 --count "$N" --size "$SIZE" --regexps "$REGEXPS" \
        --window "$WINDOW" --mode "$MODE" --timeout 300
    wait $sub
    callgrind_annotate "$OUT/callgrind-send-$TAG.out" | head -$((TOP + 20))
fi
