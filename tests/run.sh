#!/usr/bin/env bash
# tests/run.sh — runs every test: C unit tests, the fuzz corpora (regression
# drivers), CLI and integration scripts, and the Python analysis tests.
# Ends with "N passed, N failed". Called by `make test` with O and BIN set.
set -u
cd "$(dirname "$0")/.."
: "${O:=build}" "${BIN:=$PWD/bin/sagellm-bench}"
export BIN
shared=${SAGELLM_SHARED_TRACES:-../shared/traces}
if [ ! -f "$shared/AzureLLMInferenceTrace_conv.csv" ]; then
    echo "tests need the sample traces in $shared (a checkout has shared/ beside it;"
    echo "or set SAGELLM_SHARED_TRACES)"
    echo "0 passed, 1 failed"
    exit 1
fi
total_p=0
total_f=0
failed_suites=()

add_counts() { # suite-name logfile exit-code
    local p f
    read -r p f < <(grep -E '^(# counts [0-9]+ [0-9]+|[0-9]+ passed, [0-9]+ failed)$' "$2" |
                    tail -n 1 | sed -E 's/# counts //; s/ passed, / /; s/ failed//')
    if [ -z "${p:-}" ]; then p=0; f=1; echo "FAIL $1: no result line (exit $3)"; fi
    if [ "$3" != 0 ] && [ "$f" = 0 ]; then f=1; echo "FAIL $1: exit $3"; fi
    total_p=$((total_p + p)); total_f=$((total_f + f))
    [ "$f" != 0 ] && failed_suites+=("$1")
}

run_suite() { # name cmd...
    local name=$1; shift
    local log; log=$(mktemp)
    echo "== $name"
    "$@" >"$log" 2>&1
    local rc=$?
    grep -E '^(FAIL|    )' "$log" | head -n 60
    add_counts "$name" "$log" "$rc"
    rm -f "$log"
}

run_suite unit "$O/tests/unit-tests"

# The README's folder dependency order, on the objects just built.
run_suite linkcheck bash tests/linkcheck.sh "$O"

for drv in "$O"/fuzz/*-regress; do
    [ -x "$drv" ] || continue
    n=$(basename "$drv" -regress); n=${n#fuzz_}
    run_suite "fuzz-corpus:$n" "$drv" "tests/fuzz/corpus/$n"
done

for t in tests/cli/*.sh; do
    [ -f "$t" ] || continue
    run_suite "$(basename "$t" .sh)" timeout 600 bash "$t"
done

# Hostile input: misbehaving clients and servers against the real binary
# (loopback only, bounded in time and count).
for t in tests/hostile/*.sh; do
    [ -f "$t" ] || continue
    run_suite "hostile:$(basename "$t" .sh)" timeout 600 bash "$t"
done

if [ -d analysis/tests ] && ls analysis/tests/test_*.py >/dev/null 2>&1; then
    run_suite python-analysis bash -c '
        out=$(cd analysis && /usr/bin/python3 -m unittest discover -s tests -v 2>&1); rc=$?
        echo "$out" | grep -E "(FAIL|ERROR):" | sed "s/^/FAIL /"
        ran=$(echo "$out" | sed -nE "s/^Ran ([0-9]+) tests?.*/\1/p")
        bad=$(echo "$out" | grep -cE "^(FAIL|ERROR):")
        [ $rc != 0 ] && [ "$bad" = 0 ] && bad=1
        echo "# counts $(( ${ran:-0} - bad )) $bad"; exit $rc'
fi

if [ ${#failed_suites[@]} -gt 0 ]; then echo "failed suites: ${failed_suites[*]}"; fi
echo "$total_p passed, $total_f failed"
[ "$total_f" = 0 ]
