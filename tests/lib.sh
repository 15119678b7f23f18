# tests/lib.sh — helpers for CLI and integration tests (sourced by tests/cli/*.sh).
#
# Each script runs checks with `ok`, `expect_exit`, ... and ends with `finish`,
# which prints "# counts PASSED FAILED" for tests/run.sh to add up.
# $BIN is the binary under test; $SHARED the shared trace samples; $T a
# scratch directory removed at exit. Processes a test starts must be stopped
# by the test (use `spawn` + the EXIT trap, which kills them).

set -u
: "${BIN:?BIN must point at sagellm-bench}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SAGELLM_SHARED_TRACES:-$ROOT/../shared/traces}
T=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-test.XXXXXX")
PASSED=0
FAILED=0
SPAWNED=()

cleanup() {
    local p
    for p in "${SPAWNED[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${SPAWNED[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '    %s\n' "${@:2}"; return 0; }

# ok DESC CMD...: the command exits 0.
ok() {
    local d=$1; shift
    if "$@" >"$T/.out" 2>"$T/.err"; then pass "$d"
    else fail "$d" "exit $? from: $*" "$(grep -v '^ok ' "$T/.out" | head -c 600)" "$(head -c 600 "$T/.err")"; fi
}

# expect_exit DESC CODE CMD...: the command exits with CODE.
expect_exit() {
    local d=$1 want=$2; shift 2
    "$@" >"$T/.out" 2>"$T/.err"
    local got=$?
    if [ "$got" = "$want" ]; then pass "$d"; else fail "$d" "exit $got, expected $want: $*" "$(head -c 600 "$T/.err")"; fi
}

# expect_err DESC CODE PATTERN CMD...: exits CODE and stderr matches PATTERN (grep -E).
expect_err() {
    local d=$1 want=$2 pat=$3; shift 3
    "$@" >"$T/.out" 2>"$T/.err"
    local got=$?
    if [ "$got" = "$want" ] && grep -Eq -- "$pat" "$T/.err"; then pass "$d"
    else fail "$d" "exit $got (want $want), stderr: $(head -c 600 "$T/.err")" "expected pattern: $pat"; fi
}

# expect_out DESC PATTERN CMD...: exits 0 and stdout matches PATTERN.
expect_out() {
    local d=$1 pat=$2; shift 2
    if "$@" >"$T/.out" 2>"$T/.err" && grep -Eq -- "$pat" "$T/.out"; then pass "$d"
    else fail "$d" "stdout: $(head -c 600 "$T/.out")" "stderr: $(head -c 300 "$T/.err")" "expected pattern: $pat"; fi
}

# check DESC SHELL-EXPRESSION: passes when the expression (eval'd) is true.
check() {
    local d=$1; shift
    if eval "$*"; then pass "$d"; else fail "$d" "false: $*"; fi
}

# spawn CMD...: runs CMD in the background, remembered for cleanup; sets SPAWN_PID.
spawn() {
    "$@" &
    SPAWN_PID=$!
    SPAWNED+=("$SPAWN_PID")
}

# wait_for_file FILE [SECONDS]: waits (bounded) until FILE exists and is non-empty.
wait_for_file() {
    local f=$1 n=$(( ${2:-10} * 20 ))
    while [ $n -gt 0 ]; do [ -s "$f" ] && return 0; sleep 0.05; n=$((n - 1)); done
    return 1
}

finish() {
    echo "# counts $PASSED $FAILED"
    [ "$FAILED" = 0 ]
}

# azure_chat OUT [FIRST]: the shared Azure conversation sample converted to a
# chat trace at OUT, cut to its first FIRST requests when FIRST is given.
azure_chat() {
    local out=$1 whole=$1
    [ $# -gt 1 ] && whole="$T/azure-whole.jsonl.zst"
    "$BIN" trace convert --from azure --api chat "$SHARED/AzureLLMInferenceTrace_conv.csv" -o "$whole" 2>/dev/null || return 1
    [ $# -gt 1 ] || return 0
    "$BIN" trace slice "$whole" --first "$2" -o "$out" 2>/dev/null
}
