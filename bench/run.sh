#!/usr/bin/env bash
# The full benchmark run behind docs/BENCHMARKS.md:
#   1. builds ivy-bench (release) and the C benchmark against our libivy.so.3;
#   2. makes the ivy-python 4.0 venv (target/bench-pyenv, with matplotlib);
#   3. runs every scenario K times (median reported), the Rust roles, the C roles,
#      ivy-python and the raw TCP baseline in the same run;
#   4. writes target/bench/results.json and table.md, and the plots in docs/;
#   5. builds our Python package into target/py-ivy-rs and runs bench/python_bench.py
#      (ivy-rs for Python against ivy-python 4.0, side by side): target/bench/python.md.
#
#   bench/run.sh [ivy-bench options...]      (e.g. --runs 5 --messages 300000)
#
# RUNS=K (default 5). NO_C=1 skips the C API roles, NO_PYTHON=1 ivy-python.
# Everything stays on loopback, on private bus ports (never 2010).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/bench
mkdir -p "$out"

cargo build --release --bin ivy-bench >&2
args=(--scenario all --runs "${RUNS:-5}" --json)

if [ -z "${NO_C:-}" ]; then
    c-examples/bench/build.sh "$root/target/bench-c/ivy_bench" >&2
    export LD_LIBRARY_PATH=$root/target/bench-cbuild${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    args+=(--c-bench "$root/target/bench-c/ivy_bench")
fi

venv=$root/target/bench-pyenv
if [ -x scripts/python-env ]; then
    py=$(scripts/python-env "$venv" | tail -1) || py=
else
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ivy-python==4.0" >&2 || true
    py=$venv/bin/python
fi
# matplotlib for the plots (bench/plot.py has a plain PNG fallback without it).
"$venv/bin/python" -c 'import matplotlib' 2>/dev/null ||
    "$venv/bin/pip" install -q --disable-pip-version-check matplotlib >&2 || true
if [ -n "${NO_PYTHON:-}" ] || [ -z "$py" ]; then
    args+=(--python none)
else
    args+=(--python "$py")
fi

start=$(date +%s)
status=0
target/release/ivy-bench "${args[@]}" "$@" >"$out/results.json" 2>"$out/log.txt" || status=$?
echo "ivy-bench: $(( $(date +%s) - start )) s, exit $status" >&2
sed -n '/^| scenario/,$p' "$out/log.txt" >"$out/table.md"
cat "$out/table.md"
plot_py=python3
"$venv/bin/python" -c 'import matplotlib' 2>/dev/null && plot_py=$venv/bin/python
"$plot_py" bench/plot.py "$out/results.json" docs

if [ -z "${NO_PYTHON:-}" ] && [ -n "$py" ]; then
    ours=$root/target/py-ivy-rs
    [ -x "$ours/bin/pip" ] || python3 -m venv "$ours"
    "$ours/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps ./crates/ivy-python >&2
    python3 bench/python_bench.py --ours "$ours/bin/python" --ref "$py" --runs "${RUNS:-5}" \
        --json "$out/python.json" >"$out/python.md" 2>>"$out/log.txt" || status=$?
    cat "$out/python.md"
fi
exit $status
