# bench/lib.sh — shell helpers the bench scripts share (sourced, not run).
# They use the caller's W (work directory), BIN, PIN_SRV (an array: the
# taskset prefix of the server, may be empty) and die.

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
