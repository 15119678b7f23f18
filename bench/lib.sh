# bench/lib.sh — shell helpers the bench scripts share (sourced, not run).
# They use the caller's W (work directory), BIN, PIN_SRV (an array: the
# taskset prefix of the server, may be empty) and die.

# bench_init NAME: a work directory W (kept with KEEP=1), die() with
# "bench/NAME.sh: " before its message, and an exit trap that stops the
# server (SPID) and the command running (CPID) and removes W.
bench_init() {
    BENCH_NAME=$1
    W=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-bench-$1.XXXXXX")
    SPID="" CPID=""
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
bench_cleanup() {
    local p
    for p in $CPID $SPID; do kill "$p" 2>/dev/null; done
    for p in $CPID $SPID; do wait "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$W"
}
die() { echo "bench/$BENCH_NAME.sh: $*" >&2; exit 1; }

# run CMD...: runs a command in the background and waits for it, so that a
# signal to the script is acted on at once (and its cleanup stops CPID).
run() {
    "$@" &
    CPID=$!
    wait "$CPID"
    local rc=$?
    CPID=""
    return $rc
}

# serve_start SERVE-OPTIONS...: `serve` on a free loopback port with the
# hard limit of open files, its output in $W/serve.log; sets SPID and PORT
# once it listens.
serve_start() {
    rm -f "$W/port"
    (ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "${PIN_SRV[@]}" "$BIN" serve --port 0 --port-file "$W/port" "$@") \
        >"$W/serve.log" 2>&1 &
    SPID=$!
    local i
    for i in $(seq 100); do
        [ -s "$W/port" ] && break
        kill -0 "$SPID" 2>/dev/null || { cat "$W/serve.log" >&2; die "serve did not start"; }
        sleep 0.1
    done
    [ -s "$W/port" ] || die "serve did not write its port within 10 s"
    PORT=$(cat "$W/port")
}
