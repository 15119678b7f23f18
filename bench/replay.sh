#!/usr/bin/env bash
# bench/replay.sh — benchmarks of the replay engine against `sagellm-bench
# serve` on 127.0.0.1. Each prints figures measured in one run beside the
# machine's own limits measured in the same run (docs/performance.md,
# "Replay engine").
#
#   bash bench/replay.sh                  1-3 with short durations, one compact table (make bench)
#   bash bench/replay.sh fidelity [quick] send lag at 100, 1,000 and 5,000 req/s vs the raw timer
#   bash bench/replay.sh drift [MINUTES]  send lag over time, MINUTES (default 10) at 1,000 req/s
#   bash bench/replay.sh cost [quick]     CPU per request and per SSE event (issue 12 workload and
#                                         marginal); one thread vs wrk
#   bash bench/replay.sh cpu [quick]      only the issue 12 workload (2a)
#   bash bench/replay.sh vllm [quick]     2b: TTFT and ITL of the replay and of vLLM's client (VLLM=...)
#                                         beside the server's ground truth, at 100 and 1,000 req/s
#   bash bench/replay.sh streams [quick]  10,000 concurrent streams: RSS per stream in flight
#   bash bench/replay.sh streams TOKENS   STREAMS (2,000) streams of TOKENS tokens, one every STEP_MS
#                                         (50) ms, beside libcurl's own memory for the same streams
#   bash bench/replay.sh million [N]      N requests (default 1,000,000) at top speed: RSS over time
#   bash bench/replay.sh capacity         highest open-loop rate with send lag p99 <= 1 ms, one worker
#                                         thread, streaming and not, beside the bare client's
#   bash bench/replay.sh all              fidelity, cost, streams and million, full size
#
# ROUNDS=N (cpu, cost): every CPU figure of 2a is the round with the median
# CPU per request of N rounds, each client once per round in turn (default
# 1); for a machine whose CPU time varies from run to run.
#
# VLLM=<a vLLM source tree> (or VLLM=installed) adds vLLM's own benchmark
# client to the CPU runs (bench/vllm_client.py; python3 with Debian's
# python3-aiohttp, python3-regex and python3-tqdm).
#
# On a machine with two cores or more, the server runs on CPU 1 and the
# replay (one worker thread, --threads 1) and the baselines on CPU 0
# (taskset), so each side has a core of its own; SERVER_CPU and CLIENT_CPU
# choose others. Helpers (bench/timer_baseline.c, bench/replay_floor.c,
# bench/replay_probe.c, bench/curl_streams.c, bench/curl_floor.c) are
# built into a temporary directory (KEEP=1 keeps it, with every run
# directory); figures are computed by bench/replay_stats.py from the run
# directories. Every process started here is stopped on exit.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/bin/sagellm-bench}
MODE=${1:-quick}
ARG=${2:-}
ARRIVAL=${ARRIVAL:-constant}
SPIN=${SPIN:-100us}      # --spin of the fidelity runs' second replay

. "$ROOT/bench/lib.sh"
bench_init replay

[ -x "$BIN" ] || make -s all >/dev/null || die "cannot build $BIN"
cc -O2 -o "$W/timer_baseline" bench/timer_baseline.c -lm || die "cannot build bench/timer_baseline.c"
cc -O2 -o "$W/probe" bench/replay_probe.c || die "cannot build bench/replay_probe.c"
cc -O2 -o "$W/replay_floor" bench/replay_floor.c -lcjson || die "cannot build bench/replay_floor.c"
cc -O2 -o "$W/curl_streams" bench/curl_streams.c -lcurl || die "cannot build bench/curl_streams.c"
cc -O2 -o "$W/curl_floor" bench/curl_floor.c -lcurl -lcjson || die "cannot build bench/curl_floor.c"
STATS="python3 $ROOT/bench/replay_stats.py"

PIN_SRV=() PIN_CLI=() PINNING="none (taskset missing or one core)"
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SRV=(taskset -c "${SERVER_CPU:-1}")
    PIN_CLI=(taskset -c "${CLIENT_CPU:-0}")
    PINNING="server on CPU ${SERVER_CPU:-1}, replay and baselines on CPU ${CLIENT_CPU:-0}"
fi

# kv FILE KEY: the value of KEY in a line of key=value pairs.
kv() { awk -v k="$2" '{for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) { print substr($i, n + 1); exit } } }' "$1"; }
# calc EXPR: floating-point arithmetic, two decimals.
calc() { awk "BEGIN { printf \"%.2f\", $* }"; }
calc0() { awk "BEGIN { printf \"%.0f\", $* }"; }
calc3() { awk "BEGIN { printf \"%.3f\", $* }"; }
# jget FILE KEY: a top-level value of a JSON file (compact JSON for objects).
jget() { python3 -c 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1" "$2"; }
yesno() { awk "BEGIN { print (($*) ? \"yes\" : \"NO\") }"; }

# start_server SERVE-OPTIONS...: starts `serve` on a free loopback port with
# the hard limit of open files; sets URL.
start_server() {
    stop_server
    serve_start "$@"
    URL="http://127.0.0.1:$PORT"
}
stop_server() {
    [ -n "$SPID" ] || return 0
    kill "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=""
}

# bodies TRACE TOKENS STREAM_BODY PLAIN_BODY: the request body the vllm
# client sends for the trace's first record, streaming and not.
bodies() {
    "$BIN" trace materialize "$1" -o "$W/mat.jsonl" >/dev/null 2>&1 || die "trace materialize failed"
    python3 "$ROOT/bench/vllm_body.py" "$W/mat.jsonl" "$2" "$3" "$4" || die "bench/vllm_body.py failed"
}

synth() { # OUT DURATION RATE OUTPUT_TOKENS [extra synth options]
    local out=$1 dur=$2 rate=$3 tok=$4
    shift 4
    "$BIN" trace synth -o "$out" --duration "$dur" --rate "$rate" --arrival "$ARRIVAL" \
        --input fixed:16 --output "fixed:$tok" --seed 1 "$@" >/dev/null 2>&1 || die "trace synth failed"
}

# replay DIR TRACE [replay options]: one replay on the client CPU, one
# worker thread, under the probe (CPU of the replay and of the server, RSS
# samples every PROBE_MS). Leaves DIR/ and DIR.probe, DIR.samples.
replay() {
    local out=$1 trace=$2
    shift 2
    run "$W/probe" -i "${PROBE_MS:-100}" -s "$out.samples" -o "$out.probe" -p "$SPID" -- \
        "${PIN_CLI[@]}" "$BIN" replay "$trace" --client vllm --url "$URL" --out "$out" -q --threads 1 "$@" \
        >"$out.stdout" 2>"$out.stderr"
    local rc=$?
    [ -s "$out.probe" ] || die "replay produced no result (see $out.stderr)"
    [ $rc -le 1 ] || { cat "$out.stderr" >&2; die "replay exited with $rc"; }
}

# CPU the rest of the machine used during a probed run (other programs).
other_load() { # PROBEFILE -> cores busy on average with something else
    local f=$1
    calc "($(kv "$f" machine_busy_s) - $(kv "$f" cpu_s) - $(kv "$f" pid0_cpu_s)) / $(kv "$f" wall_s)"
}

note_load() {
    local o
    o=$(other_load "$1")
    if awk "BEGIN { exit !($o > 0.10) }"; then
        echo "   NOTE: other programs kept $o cores busy during this run; figures are disturbed"
    fi
}

TABLE="$W/table"
: >"$TABLE"
row() { printf '%-52s %10s %22s %8s %4s\n' "$@" >>"$TABLE"; }

echo "== bench/replay.sh $MODE: $(nproc) cores, $PINNING; $(uname -sr)"

# ---------------------------------------------------------------------------
# 1. Schedule fidelity: send lag vs the raw timer at the same rate.
bench_fidelity() {
    local plan="100:60 1000:30 5000:20"
    [ "${1:-}" = quick ] && plan="100:10 1000:5 5000:3"
    echo
    echo "## 1. schedule fidelity: send lag vs raw timer wake-up ($ARRIVAL arrivals, 16 in / 4 out tokens, streaming, serve --preset fast)"
    start_server --preset fast
    printf '%-8s %8s %9s %9s %10s | %9s %9s %10s | %8s %9s %9s | %9s %9s\n' rate requests "lag p50" "lag p99" "lag max" \
        "timer p50" "timer p99" "timer max" "p99/p99" "server" "new conn" "dur. p50" "dur. p99"
    local rd r d
    for rd in $plan; do
        r=${rd%%:*} d=${rd##*:}
        synth "$W/fid_$r.jsonl.zst" "${d}s" "$r" 4
        "${PIN_CLI[@]}" "$W/timer_baseline" "$r" $((r * d)) "$ARRIVAL" >"$W/timer_$r.txt" || die "timer_baseline failed"
        # The same timer again, alongside the replay on its CPU: what a bare
        # timer achieves under the same load (the server's, the replay's).
        "${PIN_CLI[@]}" "$W/timer_baseline" "$r" $((r * d)) "$ARRIVAL" >"$W/timer_during_$r.txt" &
        local tpid=$!
        replay "$W/fid_$r" "$W/fid_$r.jsonl.zst"
        wait "$tpid"
        $STATS lag "$W/fid_$r" >"$W/lag_$r.txt"
        # The same schedule with --spin: woken SPIN early, busy-waiting the rest.
        replay "$W/fidspin_$r" "$W/fid_$r.jsonl.zst" --spin "$SPIN"
        $STATS lag "$W/fidspin_$r" >"$W/lagspin_$r.txt"
        local lp50 lp99 lmax tp50 tp99 tmax ratio srv
        lp50=$(kv "$W/lag_$r.txt" p50_us) lp99=$(kv "$W/lag_$r.txt" p99_us) lmax=$(kv "$W/lag_$r.txt" max_us)
        tp50=$(kv "$W/timer_$r.txt" p50_us) tp99=$(kv "$W/timer_$r.txt" p99_us) tmax=$(kv "$W/timer_$r.txt" max_us)
        ratio=$(calc "$lp99 / $tp99")
        srv=$(calc0 "100 * $(kv "$W/fid_$r.probe" pid0_cpu_s) / $(kv "$W/fid_$r.probe" wall_s)")
        printf '%-8s %8s %9s %9s %10s | %9s %9s %10s | %8s %8s%% %9s | %9s %9s\n' "$r/s" "$(kv "$W/lag_$r.txt" n)" \
            "$lp50" "$lp99" "$lmax" "$tp50" "$tp99" "$tmax" "$ratio" "$srv" "$(kv "$W/lag_$r.txt" new_conn)" \
            "$(kv "$W/timer_during_$r.txt" p50_us)" "$(kv "$W/timer_during_$r.txt" p99_us)"
        [ "$(kv "$W/lag_$r.txt" ok)" = "$(kv "$W/lag_$r.txt" n)" ] ||
            echo "   NOTE: $(($(kv "$W/lag_$r.txt" n) - $(kv "$W/lag_$r.txt" ok))) requests failed at $r/s"
        note_load "$W/fid_$r.probe"
        local sp99 sratio cpu0 cpu1
        sp99=$(kv "$W/lagspin_$r.txt" p99_us)
        sratio=$(calc "$sp99 / $tp99")
        cpu0=$(calc "1e6 * $(kv "$W/fid_$r.probe" cpu_s) / $(kv "$W/lag_$r.txt" n)")
        cpu1=$(calc "1e6 * $(kv "$W/fidspin_$r.probe" cpu_s) / $(kv "$W/lagspin_$r.txt" n)")
        printf '%-8s --spin %s: lag p50 %s p99 %s max %s us; p99/timer p99 %s; CPU per request %s us (without --spin %s us)\n' \
            "$r/s" "$SPIN" "$(kv "$W/lagspin_$r.txt" p50_us)" "$sp99" "$(kv "$W/lagspin_$r.txt" max_us)" \
            "$sratio" "$cpu1" "$cpu0"
        note_load "$W/fidspin_$r.probe"
        local target="-" starget="-"
        [ "$r" = 1000 ] && target="$(yesno "$ratio <= 2")"
        [ "$r" != 5000 ] && starget="$(yesno "$sratio <= 1.5")"
        row "send lag p99 at $r/s (us)" "$lp99" "raw timer p99 $tp99" "${ratio}x" "$target"
        row "send lag p99 at $r/s, --spin $SPIN (us)" "$sp99" "raw timer p99 $tp99" "${sratio}x" "$starget"
    done
    echo "(times in us; 'timer': bench/timer_baseline.c alone on the replay's CPU just before, at the"
    echo " same rate and count; 'dur.': the same timer run alongside the replay; 'server': the"
    echo " server's CPU as a share of its core; 'new conn': requests that opened a connection, whose"
    echo " send lag includes the connect. Target at 1,000/s: p99/p99 <= 2; with --spin, <= 1.5 at"
    echo " 100 and 1,000/s. CPU per request: the replay process's CPU over the run / requests)"
    stop_server
}

# ---------------------------------------------------------------------------
# 1b. No drift: send lag per minute of a long trace at 1,000 req/s.
bench_drift() {
    local min=${1:-10}
    echo
    echo "## 1b. drift: send lag per minute, $min minutes at 1,000 req/s ($ARRIVAL arrivals)"
    start_server --preset fast
    synth "$W/drift.jsonl.zst" "${min}m" 1000 4
    "${PIN_CLI[@]}" "$W/timer_baseline" 1000 60000 "$ARRIVAL" >"$W/timer_drift.txt"
    # The raw timer over the same period, on the same CPU: the machine's own
    # worst wake-ups while the replay ran (the target for the replay's max).
    "${PIN_CLI[@]}" "$W/timer_baseline" 1000 $((min * 60000)) "$ARRIVAL" >"$W/timer_drift_during.txt" &
    local tpid=$!
    PROBE_MS=1000 replay "$W/drift" "$W/drift.jsonl.zst"
    $STATS drift "$W/drift" 60 | tee "$W/drift.txt" | sed 's/^/   /'
    $STATS lag "$W/drift" >"$W/lag_drift.txt"
    echo "   whole run: $(cat "$W/lag_drift.txt")"
    wait "$tpid"
    echo "   raw timer (60 s at 1,000/s, before): $(cat "$W/timer_drift.txt")"
    echo "   raw timer over the same $min minutes, alongside: $(cat "$W/timer_drift_during.txt")"
    echo "   max send lag / raw timer max over the same period: $(calc "$(kv "$W/lag_drift.txt" max_us) / $(kv "$W/timer_drift_during.txt" max_us)") (target <= 1)"
    echo "   achieved vs trace rate: $(jget "$W/drift/summary.json" achieved_rate) vs $(jget "$W/drift/summary.json" trace_rate)"
    local last
    last=$(tail -1 "$W/drift.txt")
    echo "   first minute p50/p99 $(kv <(echo "$last") first_p50_us)/$(kv <(echo "$last") first_p99_us) us;" \
        "last minute p50/p99 $(kv <(echo "$last") last_p50_us)/$(kv <(echo "$last") last_p99_us) us"
    note_load "$W/drift.probe"
    stop_server
}

# cpu_round K R RATE: round R of bench_cpu's runs for K (s: streaming, n:
# not): the replay, then each floor on the same requests, one after the
# other; files FILE.R.txt (the replay's run directory cpu_K.R).
cpu_round() {
    local k=$1 r=$2 rate=$3 count url=$URL/v1/chat/completions
    PROBE_MS=20 replay "$W/cpu_$k.$r" "$W/cpu.jsonl.zst" $([ "$k" = n ] && echo --no-stream)
    $STATS events "$W/cpu_$k.$r" >"$W/cev_$k.$r.txt"
    $STATS phases "$W/cpu_$k.$r" "$W/cpu_$k.$r.samples" "$(kv "$W/cpu_$k.$r.probe" clk_tck)" >"$W/cph_$k.$r.txt"
    cp "$W/cpu_$k.$r.probe" "$W/cpu_$k.probe.$r.txt"
    count=$(kv "$W/cev_$k.$r.txt" requests)
    run "${PIN_CLI[@]}" "$W/replay_floor" "${URL##*:}" /v1/chat/completions "$W/body_c$k.json" "$rate" \
        "$count" >"$W/cfloor_$k.$r.txt" || die "replay_floor failed"
    run "${PIN_CLI[@]}" "$W/replay_floor" "${URL##*:}" /v1/chat/completions "$W/body_c$k.json" "$rate" \
        "$count" json >"$W/cfloorj_$k.$r.txt" || die "replay_floor json failed"
    run "${PIN_CLI[@]}" "$W/curl_floor" "$url" "$W/body_c$k.json" "$rate" "$count" >"$W/ccurl_$k.$r.txt" ||
        die "curl_floor failed"
    run "${PIN_CLI[@]}" "$W/curl_floor" "$url" "$W/body_c$k.json" "$rate" "$count" peek >"$W/ccurlp_$k.$r.txt" ||
        die "curl_floor peek failed"
    run "${PIN_CLI[@]}" "$W/curl_floor" "$url" "$W/body_c$k.json" "$rate" "$count" peek json \
        >"$W/ccurlj_$k.$r.txt" || die "curl_floor peek json failed"
}

# median_round ROUNDS BY KEY NAME...: the round whose BY.R.txt has the
# median KEY (the lower middle one of an even count); copies that round's
# NAME.R.txt to NAME.txt (cpu_K.probe: to cpu_K.probe), so one round's
# figures stay together.
median_round() {
    local rounds=$1 by=$2 key=$3 r best name
    shift 3
    best=$(for r in $(seq "$rounds"); do echo "$(kv "$W/$by.$r.txt" "$key") $r"; done |
        sort -g | awk -v m=$(((rounds + 1) / 2)) 'NR == m { print $2 }')
    for name in "$@"; do
        case $name in
            *.probe) cp "$W/${name%.probe}.probe.$best.txt" "$W/$name" ;;
            *) cp "$W/$name.$best.txt" "$W/$name.txt" ;;
        esac
    done
}
round_values() { # ROUNDS FILE KEY: KEY of every round, comma-separated
    local r
    for r in $(seq "$1"); do kv "$W/$2.$r.txt" "$3"; done | paste -sd, | sed 's/,/, /g'
}

# ---------------------------------------------------------------------------
# 2a. CPU per request and per SSE event on issue 12's workload: 1,000 req/s,
# constant arrivals, 16 output tokens streamed one per 2 ms engine step,
# usage in every chunk and in a last chunk of its own (the vllm client's
# continuous_usage_stats), streaming and not, beside the bare client on the
# same server, rate, count and body in the same run. The simulated engine
# gives the first token at the end of the step that admits the request
# (2-4 ms after arrival), not 10 ms: `serve` has no fixed first-token delay,
# and a 10 ms prefill step would stretch every other stream's gaps too.
bench_cpu() {
    local d=10 rate=1000 tok=16
    [ "${1:-}" = quick ] && d=4
    echo
    echo "## 2a. CPU per request and per SSE event (issue 12's workload): $rate req/s for $d s, constant,"
    echo "16 in / $tok out tokens, one every 2 ms (serve --preset fast --step-time 2ms --prefill-per-token 0)"
    start_server --preset fast --step-time 2ms --prefill-per-token 0
    synth "$W/cpu.jsonl.zst" "${d}s" "$rate" "$tok"
    bodies "$W/cpu.jsonl.zst" "$tok" "$W/body_cs.json" "$W/body_cn.json"
    local k r rounds=${ROUNDS:-1} n
    for r in $(seq "$rounds"); do
        for k in s n; do
            cpu_round "$k" "$r" "$rate"
        done
    done
    for k in s n; do
        median_round "$rounds" cph_$k replay_us_per_req cph_$k cev_$k cpu_$k.probe
        for n in cfloor cfloorj ccurl ccurlp ccurlj; do
            median_round "$rounds" "${n}_$k" us_per_req "${n}_$k"
        done
    done
    [ "$rounds" -gt 1 ] && echo "(each figure: the round with the median CPU per request of $rounds rounds, every client" \
        "once per round in turn; per round, the replay's us/req, streaming: $(round_values "$rounds" cph_s replay_us_per_req);" \
        "the bare client's: $(round_values "$rounds" cfloor_s us_per_req))"
    printf '%-26s %8s %8s | %9s %8s %8s %9s | %9s %8s %8s | %6s %6s\n' run requests "SSE ev" "replay s" \
        "us/req" "us/ev" "whole" "floor s" "us/req" "us/ev" "ratio" server
    local label evs fev per fper ratio
    for k in s n; do
        [ $k = s ] && label="streaming" || label="non-streaming"
        evs=$(kv "$W/cev_$k.txt" sse_events) fev=$(kv "$W/cfloor_$k.txt" events)
        [ $k = n ] && evs=0
        per=$(kv "$W/cph_$k.txt" replay_us_per_req) fper=$(kv "$W/cfloor_$k.txt" us_per_req)
        ratio=$(calc "$per / $fper")
        printf '%-26s %8s %8s | %9s %8s %8s %9s | %9s %8s %8s | %5sx %5s%%\n' "$label" \
            "$(kv "$W/cev_$k.txt" requests)" "$evs" "$(kv "$W/cph_$k.txt" replay_cpu_s)" "$per" \
            "$( [ "$evs" = 0 ] && echo - || calc "1e6 * $(kv "$W/cph_$k.txt" replay_cpu_s) / $evs")" \
            "$(calc "1e6 * $(kv "$W/cpu_$k.probe" cpu_s) / $(kv "$W/cev_$k.txt" requests)")" \
            "$(kv "$W/cfloor_$k.txt" cpu_s)" "$fper" \
            "$( [ "$fev" = 0 ] && echo - || kv "$W/cfloor_$k.txt" us_per_event)" "$ratio" \
            "$(calc0 "100 * $(kv "$W/cpu_$k.probe" pid0_cpu_s) / $(kv "$W/cpu_$k.probe" wall_s)")"
        [ "$(kv "$W/cev_$k.txt" ok)" = "$(kv "$W/cev_$k.txt" requests)" ] || echo "   NOTE: replay requests failed in run $k"
        [ "$(kv "$W/cfloor_$k.txt" ok)" = "$(kv "$W/cfloor_$k.txt" requests)" ] || echo "   NOTE: floor requests failed in run $k"
        [ $k = s ] && [ "$evs" != "$fev" ] && echo "   NOTE: the replay counted $evs SSE events, the floor $fev"
        note_load "$W/cpu_$k.probe"
        row "CPU per request, $label, 1,000/s (us)" "$per" "floor $fper" "${ratio}x" "$(yesno "$ratio <= 1.3")"
        [ $k = s ] && row "CPU per SSE event, 1,000/s (us)" \
            "$(calc "1e6 * $(kv "$W/cph_$k.txt" replay_cpu_s) / $evs")" \
            "floor $(kv "$W/cfloor_$k.txt" us_per_event)" "${ratio}x" "$(yesno "$ratio <= 1.3")"
    done
    curl_floor_table
    echo "(us/req, us/ev: CPU of all the replay's threads while it sends and receives, as in 2, over the"
    echo " requests and over the SSE events of the run; 'whole': the whole process, start-up and summary"
    echo " included, per request; floor: bench/replay_floor.c, its rusage. ratio = replay / floor, the"
    echo " same for requests and events of one run; target <= 1.3)"
    vllm_client_row "$rate" "$(kv "$W/cev_s.txt" requests)"
    syscall_table "$W/cpu.jsonl.zst" "$rate" "$(kv "$W/cev_s.txt" requests)"
    cpu_profile "$W/cpu.jsonl.zst"
    stop_server
}

# vllm_client_row RATE COUNT: vLLM's own benchmark client (its request
# function, driven as `vllm bench serve` drives it: bench/vllm_client.py) on
# the streaming requests of bench_cpu, same server, same rate, same core,
# when VLLM names a vLLM source tree (or is "installed"); its CPU per
# request beside the replay's of this run. Without VLLM, issue 12's figure.
vllm_client_row() {
    local rate=$1 count=$2 per v share
    per=$(kv "$W/cph_s.txt" replay_us_per_req)
    if [ -z "${VLLM:-}" ]; then
        echo "vLLM's client: not measured in this run (VLLM=<vLLM source tree> or VLLM=installed measures"
        echo " it); issue 12 measured 980 us per request at 1,000 req/s: $(calc "980 / $per")x the replay's"
        row "vLLM client 980 us (issue 12) / replay, streaming" "$(calc "980 / $per")x" "target >= 8" "-" \
            "$(yesno "980 / $per >= 8")"
        return 0
    fi
    run "${PIN_CLI[@]}" python3 "$ROOT/bench/vllm_client.py" "$VLLM" "$URL/v1/chat/completions" \
        "$W/body_cs.json" "$rate" "$count" >"$W/cvllm.txt" 2>"$W/cvllm.err" ||
        { cat "$W/cvllm.err" >&2; die "bench/vllm_client.py failed"; }
    v=$(kv "$W/cvllm.txt" us_per_req)
    share=$(calc "$(kv "$W/cvllm.txt" cpu_s) / $(kv "$W/cvllm.txt" wall_s)")
    echo "vLLM's client, the same streaming requests in the same run (bench/vllm_client.py: the request"
    echo " function of $VLLM, driven as vllm bench serve drives it): $v us per request, $share cores busy,"
    echo " send lag p50 $(kv "$W/cvllm.txt" lag_p50_us) / p99 $(kv "$W/cvllm.txt" lag_p99_us) us; $(calc "$v / $per")x the replay's CPU"
    awk "BEGIN { exit !($share >= 0.9) }" &&
        echo "   NOTE: vLLM's client kept its core busy: it needs more CPU than one core gives at this rate"
    [ "$(kv "$W/cvllm.txt" ok)" = "$count" ] || echo "   NOTE: vLLM's client saw failed requests (see $W/cvllm.err)"
    row "vLLM client (same run) / replay, streaming" "$(calc "$v / $per")x" "target >= 8" "-" \
        "$(yesno "$v / $per >= 8")"
}

# 2b. The metrics beside vLLM's client (bench/vllm_client.py, VLLM needed):
# the same streamed requests (issue 12's workload) at 100 and 1,000 req/s,
# once through the replay and once through vLLM's client, each against a
# fresh server writing its ground truth; TTFT and ITL as each client
# measured them beside the server's view of the same run (first content
# event sent - request received; gaps between content events sent), and per
# request, paired by X-Request-Id, what the client's TTFT adds to the
# server's. And each client's CPU per request and send lag.
bench_vllm() {
    [ -n "${VLLM:-}" ] || die "vllm: set VLLM to a vLLM source tree (the folder that holds vllm/) or to 'installed'"
    local d=10 tok=16 rate n
    [ "${1:-}" = quick ] && d=4
    echo
    echo "## 2b. Metrics beside vLLM's client: $d s of constant arrivals, 16 in / $tok out tokens, one every"
    echo "2 ms (serve --preset fast --step-time 2ms --prefill-per-token 0 --ground-truth), streamed"
    printf '%-5s %-13s | %-13s %-13s %-13s | %-13s %-13s | %7s %7s\n' "" "" "TTFT (ms)" "server's" \
        "added (us)" "ITL (ms)" "server's" "CPU/req" "lag"
    printf '%-5s %-13s | %-13s %-13s %-13s | %-13s %-13s | %7s %7s\n' "req/s" client "p50 / p99" "p50 / p99" \
        "p50 / p99" "p50 / p99" "p50 / p99" "us" "p99 us"
    for rate in 100 1000; do
        n=$((rate * d))
        synth "$W/v$rate.jsonl.zst" "${d}s" "$rate" "$tok"
        bodies "$W/v$rate.jsonl.zst" "$tok" "$W/vbody_$rate.json" "$W/vbody_n_$rate.json"
        start_server --preset fast --step-time 2ms --prefill-per-token 0 --ground-truth "$W/gt_r$rate.jsonl"
        PROBE_MS=20 replay "$W/vr_$rate" "$W/v$rate.jsonl.zst"
        stop_server
        start_server --preset fast --step-time 2ms --prefill-per-token 0 --ground-truth "$W/gt_v$rate.jsonl"
        run "${PIN_CLI[@]}" python3 "$ROOT/bench/vllm_client.py" "$VLLM" "$URL/v1/chat/completions" \
            "$W/vbody_$rate.json" "$rate" "$n" "$W/vv_$rate.jsonl" >"$W/vv_$rate.txt" 2>"$W/vv_$rate.err" ||
            { cat "$W/vv_$rate.err" >&2; die "bench/vllm_client.py failed"; }
        stop_server
        $STATS gt "$W/gt_r$rate.jsonl" >"$W/gtr_$rate.txt"
        $STATS gt "$W/gt_v$rate.jsonl" 1 >"$W/gtv_$rate.txt"   # its first request is the test run
        $STATS added "$W/gt_r$rate.jsonl" "$W/vr_$rate/requests.jsonl" >"$W/addr_$rate.txt"
        $STATS added "$W/gt_v$rate.jsonl" "$W/vv_$rate.jsonl" >"$W/addv_$rate.txt"
        $STATS phases "$W/vr_$rate" "$W/vr_$rate.samples" "$(kv "$W/vr_$rate.probe" clk_tck)" >"$W/vph_$rate.txt"
        $STATS lag "$W/vr_$rate" >"$W/vlag_$rate.txt"
        vllm_metrics_row "$rate" replay "$(calc3 "$(jget "$W/vr_$rate/summary.json" median_ttft_ms)")" \
            "$(calc3 "$(jget "$W/vr_$rate/summary.json" p99_ttft_ms)")" "$W/gtr_$rate.txt" "$W/addr_$rate.txt" \
            "$(calc3 "$(jget "$W/vr_$rate/summary.json" median_itl_ms)")" \
            "$(calc3 "$(jget "$W/vr_$rate/summary.json" p99_itl_ms)")" \
            "$(kv "$W/vph_$rate.txt" replay_us_per_req)" "$(kv "$W/vlag_$rate.txt" p99_us)"
        vllm_metrics_row "$rate" "vLLM's client" "$(kv "$W/vv_$rate.txt" ttft_p50_ms)" \
            "$(kv "$W/vv_$rate.txt" ttft_p99_ms)" "$W/gtv_$rate.txt" "$W/addv_$rate.txt" \
            "$(kv "$W/vv_$rate.txt" itl_p50_ms)" "$(kv "$W/vv_$rate.txt" itl_p99_ms)" \
            "$(kv "$W/vv_$rate.txt" us_per_req)" "$(kv "$W/vv_$rate.txt" lag_p99_us)"
        [ "$(jget "$W/vr_$rate/summary.json" completed)" = "$n" ] || echo "   NOTE: replay requests failed at $rate/s"
        [ "$(kv "$W/vv_$rate.txt" ok)" = "$n" ] || echo "   NOTE: vLLM's client saw failed requests at $rate/s"
        local f
        for f in addr addv; do
            [ "$(kv "$W/${f}_$rate.txt" pairs)" = "$n" ] ||
                echo "   NOTE: $(kv "$W/${f}_$rate.txt" pairs) of $n requests paired with the ground truth ($f)"
        done
        note_load "$W/vr_$rate.probe"
        row "TTFT the client adds, p99, $rate/s, replay (us)" "$(kv "$W/addr_$rate.txt" added_p99_us)" \
            "vLLM's $(kv "$W/addv_$rate.txt" added_p99_us)" "-" "-"
    done
    echo "(TTFT, ITL: as each client measured them: the replay's summary.json, vLLM's client's ttft and"
    echo " itl; server's: the ground truth of the same run (first content event sent - request received;"
    echo " the gaps between content events sent); added: per request, paired by X-Request-Id, the"
    echo " client's TTFT - the server's; vLLM's client also counts the role chunk (sent with the first"
    echo " token) as a chunk, so its ITL has one ~0 gap per request more. CPU/req: the replay's threads"
    echo " while replaying, vLLM's client's process over its run; lag: request sent - request due)"
}

# vllm_metrics_row RATE LABEL TTFT50 TTFT99 GTFILE ADDEDFILE ITL50 ITL99 CPU LAG99:
# one line of bench_vllm's table.
vllm_metrics_row() {
    printf '%-5s %-13s | %-13s %-13s %-13s | %-13s %-13s | %7s %7s\n' "$1" "$2" "$3 / $4" \
        "$(kv "$5" ttft_p50_ms) / $(kv "$5" ttft_p99_ms)" \
        "$(calc0 "$(kv "$6" added_p50_us)") / $(calc0 "$(kv "$6" added_p99_us)")" "$7 / $8" \
        "$(kv "$5" itl_p50_ms) / $(kv "$5" itl_p99_ms)" "$(calc0 "$9")" "$(calc0 "${10}")"
}

# curl_floor_table: after bench_cpu's runs, the bare client with cJSON's
# parse of every event (bench/replay_floor.c json), and libcurl's own cost
# on the same requests in the same run (bench/curl_floor.c: libcurl driven as a worker
# drives it, nothing of the replay's own; then with the kernel
# receive-stamp peek per readable socket; then also with cJSON's parse of
# every event, in an arena), each as a ratio to the bare client's, and the
# replay beside the last.
curl_floor_table() {
    echo "The floors, the same requests in the same run: the bare client with cJSON's parse of every event"
    echo "(bench/replay_floor.c json: what a client that reads tokens and usage costs without libcurl), and"
    echo "libcurl alone (bench/curl_floor.c; + peek: with the receive-stamp recvmsg the replay makes per"
    echo "readable socket with --rx-stamp kernel; + JSON: and cJSON's parse of every event):"
    printf '%-15s | %8s | %9s %6s | %8s %6s | %8s %6s | %8s %6s | %12s\n' "us/request" "floor" "bare+JSON" "ratio" \
        "libcurl" "ratio" "+ peek" "ratio" "+ JSON" "ratio" "replay/+JSON"
    local k label f b c p j per m
    for k in s n; do
        [ $k = s ] && label="streaming" || label="non-streaming"
        f=$(kv "$W/cfloor_$k.txt" us_per_req) b=$(kv "$W/cfloorj_$k.txt" us_per_req)
        c=$(kv "$W/ccurl_$k.txt" us_per_req)
        p=$(kv "$W/ccurlp_$k.txt" us_per_req) j=$(kv "$W/ccurlj_$k.txt" us_per_req)
        per=$(kv "$W/cph_$k.txt" replay_us_per_req)
        printf '%-15s | %8s | %9s %5sx | %8s %5sx | %8s %5sx | %8s %5sx | %11sx\n' "$label" "$f" \
            "$b" "$(calc "$b / $f")" "$c" "$(calc "$c / $f")" \
            "$p" "$(calc "$p / $f")" "$j" "$(calc "$j / $f")" "$(calc "$per / $j")"
        for m in cfloorj ccurl ccurlp ccurlj; do
            [ "$(kv "$W/${m}_$k.txt" ok)" = "$(kv "$W/${m}_$k.txt" requests)" ] ||
                echo "   NOTE: floor requests failed in run $k ($m)"
            [ "$(kv "$W/${m}_$k.txt" json_errors)" = 0 ] ||
                echo "   NOTE: cJSON refused $(kv "$W/${m}_$k.txt" json_errors) events in run $k ($m)"
        done
        [ $k = s ] && [ "$(kv "$W/ccurl_$k.txt" events)" != "$(kv "$W/cfloor_$k.txt" events)" ] &&
            echo "   NOTE: libcurl alone counted $(kv "$W/ccurl_$k.txt" events) SSE events, the floor $(kv "$W/cfloor_$k.txt" events)"
        row "CPU per request, $label, bare + JSON (us)" "$b" "floor $f" "$(calc "$b / $f")x" "-"
        row "CPU per request, $label, libcurl alone (us)" "$c" "floor $f" "$(calc "$c / $f")x" "-"
        row "CPU per request, $label, libcurl + peek (us)" "$p" "floor $f" "$(calc "$p / $f")x" "-"
        row "CPU per request, $label, + JSON parse (us)" "$j" "floor $f" "$(calc "$j / $f")x" \
            "$(yesno "$j / $f <= 1.3")"
    done
}

# syscall_table TRACE RATE COUNT: system calls per request of the replay
# and of the floors on bench_cpu's streaming requests, counted by the
# kernel's tracepoints (perf stat; separate runs, as counting adds a little
# CPU, so no CPU figure above comes from them). Shows where the replay's
# extra kernel work is: libcurl's poll() after every read and the
# receive-stamp peek.
SYSCALLS="read recvfrom recvmsg poll epoll_wait epoll_ctl"
syscall_table() {
    local trace=$1 rate=$2 count=$3 ev="raw_syscalls:sys_enter" c
    for c in $SYSCALLS; do ev="$ev,syscalls:sys_enter_$c"; done
    if ! command -v perf >/dev/null || ! perf stat -x, -e "$ev" -o /dev/null -- true >/dev/null 2>&1; then
        echo "system calls: perf cannot count syscall tracepoints here; skipped"
        return 0
    fi
    local url=$URL/v1/chat/completions
    rm -rf "$W/sc_replay"
    run perf stat -x, -e "$ev" -o "$W/sc_replay.txt" -- "${PIN_CLI[@]}" "$BIN" replay "$trace" --client vllm \
        --url "$URL" --out "$W/sc_replay" -q --threads 1 >/dev/null 2>&1
    run perf stat -x, -e "$ev" -o "$W/sc_bare.txt" -- "${PIN_CLI[@]}" "$W/replay_floor" "${URL##*:}" \
        /v1/chat/completions "$W/body_cs.json" "$rate" "$count" >/dev/null
    run perf stat -x, -e "$ev" -o "$W/sc_curl.txt" -- "${PIN_CLI[@]}" "$W/curl_floor" "$url" "$W/body_cs.json" \
        "$rate" "$count" >/dev/null
    run perf stat -x, -e "$ev" -o "$W/sc_curlp.txt" -- "${PIN_CLI[@]}" "$W/curl_floor" "$url" "$W/body_cs.json" \
        "$rate" "$count" peek json >/dev/null
    echo "System calls per streaming request (perf stat, the kernel's tracepoints; separate runs of the same"
    echo "requests; the replay's per readable socket: libcurl's recvfrom, then its poll() asking whether more"
    echo "is queued, and with --rx-stamp kernel the receive-stamp recvmsg before them):"
    printf '%-22s %7s' "" all
    for c in $SYSCALLS; do printf ' %10s' "$c"; done
    echo
    local f label n
    for f in bare:bare curl:"libcurl alone" curlp:"libcurl+peek+JSON" replay:replay; do
        label=${f#*:} f=${f%%:*}
        printf '%-22s %7s' "$label" "$(sc_per_req "$W/sc_$f.txt" raw_syscalls:sys_enter "$count")"
        for c in $SYSCALLS; do printf ' %10s' "$(sc_per_req "$W/sc_$f.txt" "syscalls:sys_enter_$c" "$count")"; done
        echo
    done
    n=$(sc_per_req "$W/sc_replay.txt" raw_syscalls:sys_enter "$count")
    row "system calls per streaming request, replay" "$n" "bare $(sc_per_req "$W/sc_bare.txt" raw_syscalls:sys_enter "$count")" \
        "$(calc "$n / $(sc_per_req "$W/sc_bare.txt" raw_syscalls:sys_enter "$count")")x" "-"
}
# sc_per_req FILE EVENT COUNT: a perf stat -x, count over COUNT requests.
sc_per_req() { awk -F, -v e="$2" -v n="$3" '$3 == e { printf "%.1f", $1 / n; f = 1 } END { if (!f) printf "-" }' "$1"; }

# cpu_profile TRACE: when perf can record here, one more streaming replay of
# TRACE under `perf record` (cpu-clock samples of every thread of the
# process), and the share of each library in them. A separate run: perf
# adds its own cost, so no figure above comes from it.
cpu_profile() {
    if ! command -v perf >/dev/null || ! perf record -q -o /dev/null -- true >/dev/null 2>&1; then
        echo "profile: perf is missing or not allowed here (perf_event_paranoid); skipped"
        return 0
    fi
    rm -rf "$W/cpu_p"
    run perf record -q -o "$W/perf.data" -- "${PIN_CLI[@]}" "$BIN" replay "$1" --client vllm --url "$URL" \
        --out "$W/cpu_p" -q --threads 1 >/dev/null 2>"$W/perf.err" || { cat "$W/perf.err" >&2; return 0; }
    perf report -i "$W/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null | awk '
        /^ *[0-9.]+%/ { p = $1 + 0; d = $2
            if (d ~ /kernel/) k = "kernel"; else if (d ~ /^libc\.so/) k = "libc"
            else if (d ~ /^libcurl/) k = "libcurl"; else if (d ~ /^libcjson/) k = "cJSON"
            else if (d ~ /^sagellm-bench/) k = "sagellm-bench"; else if (d ~ /vdso/) k = "vdso"
            else k = "other"
            s[k] += p }
        END { printf "profile of a streaming run (perf, whole process, cpu-clock):"
              n = split("kernel libc libcurl cJSON sagellm-bench vdso other", o, " ")
              for (i = 1; i <= n; i++) printf " %s %.1f%%%s", o[i], s[o[i]], i < n ? "," : "\n" }'
}

# ---------------------------------------------------------------------------
# 2. Client cost: CPU per request and per SSE event; one thread vs wrk.
bench_cost() {
    bench_cpu "$@"
    local d=10 n=200000 rate=500 long=130
    [ "${1:-}" = quick ] && d=4 n=40000
    echo
    echo "## 2. client cost: CPU of the replay process vs the bare client (bench/replay_floor.c)"
    echo "($rate req/s for $d s, 16 in tokens, serve --preset fast; one run each)"
    start_server --preset fast
    synth "$W/cost_short.jsonl.zst" "${d}s" "$rate" 2
    synth "$W/cost_long.jsonl.zst" "${d}s" "$rate" "$long"
    bodies "$W/cost_short.jsonl.zst" 2 "$W/body_s.json" "$W/body_n.json"
    bodies "$W/cost_long.jsonl.zst" "$long" "$W/body_l.json" /dev/null
    PROBE_MS=20 replay "$W/cost_s" "$W/cost_short.jsonl.zst"
    PROBE_MS=20 replay "$W/cost_l" "$W/cost_long.jsonl.zst"
    PROBE_MS=20 replay "$W/cost_n" "$W/cost_short.jsonl.zst" --no-stream
    local k
    for k in s l n; do
        $STATS events "$W/cost_$k" >"$W/ev_$k.txt"
        $STATS phases "$W/cost_$k" "$W/cost_$k.samples" "$(kv "$W/cost_$k.probe" clk_tck)" >"$W/ph_$k.txt"
        run "${PIN_CLI[@]}" "$W/replay_floor" "${URL##*:}" /v1/chat/completions "$W/body_$k.json" "$rate" \
            "$(kv "$W/ev_$k.txt" requests)" >"$W/floor_$k.txt" || die "replay_floor failed"
    done
    local cs cl cn ns nn es el per_s per_n per_ev fs fl fes fel fper_s fper_n fper_ev
    cs=$(kv "$W/ph_s.txt" replay_cpu_s) cl=$(kv "$W/ph_l.txt" replay_cpu_s) cn=$(kv "$W/ph_n.txt" replay_cpu_s)
    ns=$(kv "$W/ev_s.txt" requests) nn=$(kv "$W/ev_n.txt" requests)
    es=$(kv "$W/ev_s.txt" sse_events) el=$(kv "$W/ev_l.txt" sse_events)
    per_s=$(calc "1e6 * $cs / $ns")
    per_n=$(calc "1e6 * $cn / $nn")
    per_ev=$(calc "1e6 * ($cl - $cs) / ($el - $es)")
    fs=$(kv "$W/floor_s.txt" cpu_s) fl=$(kv "$W/floor_l.txt" cpu_s)
    fes=$(kv "$W/floor_s.txt" events) fel=$(kv "$W/floor_l.txt" events)
    fper_s=$(kv "$W/floor_s.txt" us_per_req) fper_n=$(kv "$W/floor_n.txt" us_per_req)
    fper_ev=$(calc "1e6 * ($fl - $fs) / ($fel - $fes)")
    printf '%-38s %8s %8s | %10s %9s %9s | %9s %9s | %6s\n' run requests "SSE ev" "replay CPU" "us/req" \
        "us/event" "floor CPU" "us/req" server
    for k in s l n; do
        local label evs
        case $k in
            s) label="streaming, 2 tokens (5 SSE events)" ;;
            l) label="streaming, $long tokens ($((long + 3)) SSE events)" ;;
            n) label="non-streaming, 2 tokens" ;;
        esac
        evs=$(kv "$W/ev_$k.txt" sse_events)
        [ $k = n ] && evs=0
        printf '%-38s %8s %8s | %10s %9s %9s | %9s %9s | %5s%%\n' "$label" "$(kv "$W/ev_$k.txt" requests)" \
            "$evs" "$(kv "$W/ph_$k.txt" replay_cpu_s)" "$(kv "$W/ph_$k.txt" replay_us_per_req)" \
            "$( [ "$evs" = 0 ] && echo - || calc "1e6 * $(kv "$W/ph_$k.txt" replay_cpu_s) / $evs")" \
            "$(kv "$W/floor_$k.txt" cpu_s)" "$(kv "$W/floor_$k.txt" us_per_req)" \
            "$(calc0 "100 * $(kv "$W/cost_$k.probe" pid0_cpu_s) / $(kv "$W/cost_$k.probe" wall_s)")"
        [ "$(kv "$W/ev_$k.txt" ok)" = "$(kv "$W/ev_$k.txt" requests)" ] || echo "   NOTE: replay requests failed in run $k"
        [ "$(kv "$W/floor_$k.txt" ok)" = "$(kv "$W/floor_$k.txt" requests)" ] || echo "   NOTE: floor requests failed in run $k"
        note_load "$W/cost_$k.probe"
    done
    echo "CPU per request: streaming $per_s us (floor $fper_s, ratio $(calc "$per_s / $fper_s")x);" \
        "non-streaming $per_n us (floor $fper_n, ratio $(calc "$per_n / $fper_n")x); target <= 30"
    echo "CPU per SSE event, marginal (long run - short run) / (events difference): $per_ev us" \
        "(floor $fper_ev, ratio $(calc "$per_ev / $fper_ev")x); target <= 2"
    echo "(replay CPU: user + system of all its threads from the last sample before its first send to"
    echo " the first after its last response, /proc/PID/stat every 20 ms in 10 ms ticks: start-up and"
    echo " the summary at the end left out; whole processes: $(kv "$W/cost_s.probe" cpu_s)," \
        "$(kv "$W/cost_l.probe" cpu_s), $(kv "$W/cost_n.probe" cpu_s) s. Floor: bench/replay_floor.c on"
    echo " the same CPU, server, rate, count and request body; its CPU from its own rusage)"
    row "CPU per request, streaming (us)" "$per_s" "floor $fper_s; <= 30" "$(calc "$per_s / $fper_s")x" \
        "$(yesno "$per_s <= 30")"
    row "CPU per request, non-streaming (us)" "$per_n" "floor $fper_n; <= 30" "$(calc "$per_n / $fper_n")x" \
        "$(yesno "$per_n <= 30")"
    row "CPU per SSE event (us, marginal)" "$per_ev" "floor $fper_ev; <= 2" "$(calc "$per_ev / $fper_ev")x" \
        "$(yesno "$per_ev <= 2")"
    stop_server

    # One replay thread, closed loop at 64 in flight, against wrk -t1 -c64.
    # Engine steps of 100 us: at the preset's 1 ms, 64 requests in flight
    # are held to about 20,000/s by the engine's latency alone.
    local conns=64 secs
    echo
    echo "## 2b. non-streaming requests/s: replay --threads 1 --max-inflight $conns vs wrk -t1 -c$conns"
    echo "(same endpoint, body and server: serve --preset fast --step-time 100us)"
    start_server --preset fast --step-time 100us
    synth "$W/tput.jsonl.zst" "$(calc "$n / 1000000")s" 1000000 2
    PROBE_MS=20 replay "$W/tput" "$W/tput.jsonl.zst" --no-stream --max-inflight "$conns"
    $STATS events "$W/tput" >"$W/ev_tput.txt"
    local rq rcpu rsrv rrate
    rq=$(kv "$W/ev_tput.txt" requests)
    rrate=$(jget "$W/tput/summary.json" request_throughput)
    $STATS phases "$W/tput" "$W/tput.samples" "$(kv "$W/tput.probe" clk_tck)" >"$W/ph_tput.txt"
    rcpu=$(kv "$W/ph_tput.txt" replay_us_per_req)
    rsrv=$(calc0 "100 * $(kv "$W/tput.probe" pid0_cpu_s) / $(kv "$W/tput.probe" wall_s)")
    if ! command -v wrk >/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "wrk is not installed: installing the Debian package wrk (apt-get install -y wrk)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 ||
                echo "   apt-get install wrk failed"
        fi
    fi
    if ! command -v wrk >/dev/null; then
        echo "replay: $rrate req/s, $rcpu us CPU per request, server $rsrv%"
        echo "wrk is not installed and cannot be installed here (not root): run 'apt-get install wrk' as root"
        echo "to compare; skipped"
        row "req/s on one thread, non-streaming" "$(calc0 "$rrate")" "wrk: not installed" "-" "-"
    else
        bodies "$W/tput.jsonl.zst" 2 /dev/null "$W/body_t.json"
        { printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
          printf 'wrk.body = [==[%s]==]\n' "$(cat "$W/body_t.json")"; } >"$W/post.lua"
        secs=$(calc0 "$(kv "$W/tput.probe" wall_s) + 0.5")
        [ "$secs" -ge 3 ] || secs=3
        run "$W/probe" -o "$W/wrk.probe" -p "$SPID" -- "${PIN_CLI[@]}" wrk -t1 -c"$conns" -d"${secs}s" \
            -s "$W/post.lua" "$URL/v1/chat/completions" >"$W/wrk.out" 2>&1
        local wrate wreq wcpu wsrv ratio cratio
        wrate=$(awk '/^Requests\/sec:/ { print $2 }' "$W/wrk.out")
        wreq=$(awk '/requests in/ { print $1 }' "$W/wrk.out")
        grep -q "Non-2xx" "$W/wrk.out" && echo "   NOTE: wrk got non-2xx answers: $(grep Non-2xx "$W/wrk.out")"
        [ -n "$wrate" ] || { cat "$W/wrk.out"; die "wrk gave no result"; }
        wcpu=$(calc "1e6 * $(kv "$W/wrk.probe" cpu_s) / $wreq")
        wsrv=$(calc0 "100 * $(kv "$W/wrk.probe" pid0_cpu_s) / $(kv "$W/wrk.probe" wall_s)")
        ratio=$(calc "$rrate / $wrate")
        cratio=$(calc "$wcpu / $rcpu")
        printf '%-10s %10s %12s %14s %12s\n' client requests "req/s" "CPU us/req" "server CPU"
        printf '%-10s %10s %12s %14s %11s%%\n' replay "$rq" "$(calc0 "$rrate")" "$rcpu" "$rsrv"
        printf '%-10s %10s %12s %14s %11s%%\n' wrk "$wreq" "$(calc0 "$wrate")" "$wcpu" "$wsrv"
        echo "req/s replay/wrk = $ratio (target >= 0.5); CPU per request wrk/replay = $cratio"
        echo "(replay CPU while sending, as in 2; whole process $(calc "1e6 * $(kv "$W/tput.probe" cpu_s) / $rq") us/req."
        echo " Server CPU near 100% means the server, not the client, set the rate)"
        note_load "$W/tput.probe"
        note_load "$W/wrk.probe"
        row "req/s on one thread, non-streaming" "$(calc0 "$rrate")" "wrk $(calc0 "$wrate")" "${ratio}x" \
            "$(yesno "$ratio >= 0.5")"
    fi
    stop_server
}

# ---------------------------------------------------------------------------
# 3. Concurrent streams: RSS per stream in flight, no client errors.
#   streams           10,000 streams of 480 tokens, one every 250 ms
#   streams quick     10,000 streams of 24 tokens, one every 500 ms
#   streams TOKENS    STREAMS (default 2,000) streams of TOKENS tokens, one
#                     every STEP_MS (default 50) ms, beside the floor: libcurl
#                     on its own (bench/curl_streams.c) holding the same streams;
#                     with INPUT_TOKENS=N the records carry request bodies of
#                     N input tokens (trace materialize) instead of 16-token
#                     length-only records
bench_streams() {
    local n=10000 ramp=1000 tok=480 step=250ms target=32768 floor=""
    case ${1:-} in
        quick) ramp=2500 tok=24 step=500ms ;;
        '') ;;
        *[!0-9]*) die "streams: expected quick or a number of tokens, not '$1'" ;;
        *) n=${STREAMS:-2000} tok=$1 step=${STEP_MS:-50}ms target=16384 floor=1 ;;
    esac
    echo
    echo "## 3. $n concurrent streams: $ramp new streams/s, $tok tokens each, one every $step"
    local hard
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt $((n + 200)) ]; then
        echo "the open-files hard limit is $hard; $n streams need $((n + 200)) per process: skipped"
        row "RSS per stream in flight (bytes)" "skipped" "RLIMIT_NOFILE $hard" "-" "-"
        return 0
    fi
    start_server --preset fast --step-time "$step" --max-batch $((n * 2)) --max-connections $((n + 1000))
    synth "$W/streams.jsonl.zst" "$(calc "$n / $ramp")s" "$ramp" "$tok" $(input_opt)
    if [ -n "${INPUT_TOKENS:-}" ]; then
        echo "(records with request bodies of $INPUT_TOKENS input tokens: trace materialize)"
        "$BIN" trace materialize "$W/streams.jsonl.zst" -o "$W/streams_b.jsonl.zst" >/dev/null 2>&1 ||
            die "trace materialize failed"
        mv "$W/streams_b.jsonl.zst" "$W/streams.jsonl.zst"
    fi
    # Two seconds before the first send: the trace is read ahead by then
    # (all of it up to 4,096 records), so the RSS just before the first send
    # holds it and the libraries' start-up, and what the streams add is
    # measured against that.
    PROBE_MS=250 replay "$W/streams" "$W/streams.jsonl.zst" --start-at $(($(date +%s) + 2))
    $STATS inflight "$W/streams" "$W/streams.samples" >"$W/rss.txt"
    $STATS events "$W/streams" >"$W/ev_streams.txt"
    local per_s per_e peak ok req errs
    per_s=$(kv "$W/rss.txt" start_bytes_per_stream) per_e=$(kv "$W/rss.txt" end_bytes_per_stream)
    peak=$(kv "$W/rss.txt" peak_inflight)
    ok=$(kv "$W/ev_streams.txt" ok) req=$(kv "$W/ev_streams.txt" requests)
    errs=$(jget "$W/streams/summary.json" errors)
    echo "streams in flight at the peak: $peak (max_concurrency $(jget "$W/streams/summary.json" max_concurrency))"
    echo "RSS idle $(kv "$W/rss.txt" idle_rss_kb) kB; plateau of $(kv "$W/rss.txt" plateau_s) s with >= 98% of the peak in flight:"
    echo "   start: RSS $(kv "$W/rss.txt" start_rss_kb) kB, $(kv "$W/rss.txt" start_inflight) streams," \
        "$(kv "$W/rss.txt" start_tokens_per_stream) tokens received each: $per_s bytes per stream"
    echo "   end:   RSS $(kv "$W/rss.txt" end_rss_kb) kB, $(kv "$W/rss.txt" end_inflight) streams," \
        "$(kv "$W/rss.txt" end_tokens_per_stream) tokens received each: $per_e bytes per stream"
    local bpt
    bpt=$(kv "$W/rss.txt" bytes_per_token)
    [ -n "$bpt" ] && echo "   growth while streaming: $bpt bytes per token received"
    echo "requests ok: $ok of $req; errors: ${errs:-none}; replay peak RSS $(kv "$W/streams.probe" maxrss_kb) kB"
    echo "replay CPU $(kv "$W/streams.probe" cpu_s) s, server CPU $(kv "$W/streams.probe" pid0_cpu_s) s over $(kv "$W/streams.probe" wall_s) s"
    note_load "$W/streams.probe"
    if [ -n "${INPUT_TOKENS:-}" ]; then
        echo "   NOTE: the RSS before the first send holds the records read ahead with their bodies, which"
        echo "   the replay may free while the streams run: compare the RSS, not the bytes per stream"
    fi
    local beside="target <= $target" ratio="-"
    if [ -n "$floor" ]; then
        streams_floor "$n" "$ramp" "$tok" "${step%ms}"
        beside="libcurl alone $FLOOR_BPS"
        ratio="$(calc "$per_e / $FLOOR_BPS")x"
    fi
    echo "(target: <= $target bytes per stream, every request ok)"
    row "RSS per stream in flight (bytes, end)" "$per_e" "$beside" "$ratio" \
        "$(yesno "$per_e <= $target && $peak >= $n * 0.98")"
    row "streams ok / sent" "$ok/$req" "all ok" "-" "$(yesno "$ok == $req")"
    stop_server
}

# input_opt: the synth option for INPUT_TOKENS, when it is set.
input_opt() { [ -z "${INPUT_TOKENS:-}" ] || echo "--input fixed:$INPUT_TOKENS"; }

# streams_floor STREAMS RAMP TOKENS STEP_MS: libcurl on its own
# (bench/curl_streams.c) holds the same streams from the same server with
# the same body and headers, its smallest receive buffer (1,024 bytes) and
# nothing else; sets FLOOR_BPS (bytes per stream in flight). Its memory
# does not grow with tokens (it keeps none), so its streams last only long
# enough for a plateau of a few seconds with all of them in flight.
streams_floor() {
    local n=$1 ramp=$2 tok=$3 step_ms=$4 ftok
    ftok=$(calc0 "($n / $ramp + 4) * 1000 / $step_ms")
    [ "$ftok" -lt "$tok" ] || ftok=$tok
    synth "$W/floor.jsonl.zst" 1s 1 "$ftok" $(input_opt)
    bodies "$W/floor.jsonl.zst" "$ftok" "$W/body_floor.json" /dev/null
    run "${PIN_CLI[@]}" "$W/curl_streams" "$URL/v1/chat/completions" "$W/body_floor.json" "$n" "$ramp" 1024 \
        >"$W/floor_streams.txt" || echo "   NOTE: the floor's streams did not all succeed"
    FLOOR_BPS=$(kv "$W/floor_streams.txt" bytes_per_stream)
    echo "floor, libcurl alone (bench/curl_streams.c, 1,024-byte receive buffer; the same $n streams," \
        "$ftok tokens each): RSS idle $(kv "$W/floor_streams.txt" idle_rss_kb) kB, all $n in flight" \
        "$(kv "$W/floor_streams.txt" plateau_rss_kb) kB for $(kv "$W/floor_streams.txt" plateau_s) s:" \
        "$FLOOR_BPS bytes per stream; ok $(kv "$W/floor_streams.txt" ok) of $n"
}

# ---------------------------------------------------------------------------
# 4. A million requests at top speed: RSS flat while replaying.
bench_million() {
    local n=${1:-1000000} conns=64
    echo
    echo "## 4. $n requests, streaming, 2 tokens each, closed loop at $conns in flight (as fast as the server answers)"
    start_server --preset fast
    synth "$W/million.jsonl.zst" "$(calc "$n / 100000")s" 100000 2
    PROBE_MS=250 replay "$W/million" "$W/million.jsonl.zst" --max-inflight "$conns"
    $STATS progress "$W/million" "$W/million.samples" >"$W/progress.txt"
    local r10 r50 r90 pk ps
    r10=$(kv "$W/progress.txt" rss_10_kb) r50=$(kv "$W/progress.txt" rss_50_kb) r90=$(kv "$W/progress.txt" rss_90_kb)
    pk=$(kv "$W/progress.txt" peak_replay_kb) ps=$(kv "$W/progress.txt" peak_summary_kb)
    echo "requests $(kv "$W/progress.txt" requests), $(calc0 "$(jget "$W/million/summary.json" request_throughput)") req/s," \
        "failed $(jget "$W/million/summary.json" failed)"
    echo "RSS after 10% / 50% / 90% of requests: $r10 / $r50 / $r90 kB; peak while replaying $pk kB" \
        "(ratio 90%/10% $(calc "$r90 / $r10"))"
    echo "summary phase ($(kv "$W/progress.txt" summary_s) s after the last response): peak $ps kB;" \
        "whole-process peak (rusage) $(kv "$W/million.probe" maxrss_kb) kB"
    note_load "$W/million.probe"
    row "RSS at 90% / 10% of $n requests" "$r90/$r10 kB" "flat: 1.00" "$(calc "$r90 / $r10")x" \
        "$(yesno "$r90 <= $r10 * 1.1")"
    stop_server
}

# ---------------------------------------------------------------------------
# 5. Capacity: the highest open-loop rate one replay worker thread sustains
# with send lag p99 <= CAP_LAG_US (1,000 us), streaming and not, beside the
# bare client's (bench/replay_floor.c) on the same set-up: constant arrivals,
# 16 in / 2 out tokens, runs of CAP_SECONDS (3) s, client on its core and
# server (--preset fast) on the other. A rate is sustained when every request
# succeeds and the p99 is within the limit. The two searches run in turns
# (cap_search); each doubles from CAP_START (4,000/s) to the first failure
# and bisects (geometrically) until its bounds are within 10 %.
CAP_LAG_US=${CAP_LAG_US:-1000}

# cap_probe WHO MODE RATE: one run of WHO (replay or floor), MODE (stream or
# plain) at RATE/s; sets CAP_N CAP_OK CAP_P50 CAP_P99, CAP_SRV (server CPU,
# % of its core) and CAP_OTHER (cores other programs kept busy); returns 0
# when RATE was sustained.
cap_probe() {
    local who=$1 mode=$2 rate=$3 secs=${CAP_SECONDS:-3} n d
    n=$(calc0 "$rate * $secs")
    d="$W/cap_${who}_${mode}_$rate"
    CAP_N="" CAP_OK="" CAP_P50="" CAP_P99="" CAP_SRV="" CAP_OTHER=""
    if [ "$who" = replay ]; then
        synth "$d.jsonl.zst" "${secs}s" "$rate" 2
        local extra=()
        [ "$mode" = plain ] && extra=(--no-stream)
        PROBE_MS=250 replay "$d" "$d.jsonl.zst" "${extra[@]}"
        $STATS lag "$d" >"$d.lag"
        CAP_N=$(kv "$d.lag" n) CAP_OK=$(kv "$d.lag" ok) CAP_P50=$(kv "$d.lag" p50_us) CAP_P99=$(kv "$d.lag" p99_us)
        CAP_SRV=$(calc0 "100 * $(kv "$d.probe" pid0_cpu_s) / $(kv "$d.probe" wall_s)")
        CAP_OTHER=$(other_load "$d.probe")
        rm -rf "$d" "$d.jsonl.zst"
    else
        run "$W/probe" -o "$d.probe" -p "$SPID" -- "${PIN_CLI[@]}" "$W/replay_floor" "${URL##*:}" \
            /v1/chat/completions "$W/cap_body_$mode.json" "$rate" "$n" >"$d.floor" 2>&1
        CAP_N=$(kv "$d.floor" requests) CAP_OK=$(kv "$d.floor" ok)
        CAP_P50=$(kv "$d.floor" lag_p50_us) CAP_P99=$(kv "$d.floor" lag_p99_us)
        if [ -s "$d.probe" ]; then
            CAP_SRV=$(calc0 "100 * $(kv "$d.probe" pid0_cpu_s) / $(kv "$d.probe" wall_s)")
            CAP_OTHER=$(other_load "$d.probe")
        fi
    fi
    [ -n "$CAP_P99" ] && [ "$CAP_N" = "$n" ] && [ "$CAP_OK" = "$n" ] &&
        awk "BEGIN { exit !($CAP_P99 <= $CAP_LAG_US) }"
}

# cap_line WHO MODE RATE VERDICT: one line per run.
cap_line() {
    printf '   %-6s %-6s %7s/s  ok %6s of %6s  lag p50 %7s p99 %9s us  server %3s%%  other %4s  %s\n' \
        "$1" "$2" "$3" "${CAP_OK:--}" "${CAP_N:--}" "${CAP_P50:--}" "${CAP_P99:--}" "${CAP_SRV:--}" \
        "${CAP_OTHER:--}" "$4"
}

# cap_next WHO: the next rate of WHO's search from its bounds (CAP_LO,
# CAP_HI; 0 = none yet) into CAP_RATE, or CAP_DONE set: doubling from
# CAP_START (4,000/s) up to the first failure, halving down to the first
# success (not below 125/s), then the geometric middle, to 50/s, until the
# bounds are within 10 %.
cap_next() {
    local w=$1 lo=${CAP_LO[$1]} hi=${CAP_HI[$1]} mid
    if [ "$hi" = 0 ]; then
        CAP_RATE[$w]=$((lo ? lo * 2 : ${CAP_START:-4000}))
        [ "${CAP_RATE[$w]}" -le 512000 ] || CAP_DONE[$w]=1
    elif [ "$lo" = 0 ]; then
        CAP_RATE[$w]=$((hi / 2))
        [ "${CAP_RATE[$w]}" -ge 125 ] || CAP_DONE[$w]=1
    else
        mid=$(awk -v a="$lo" -v b="$hi" 'BEGIN { printf "%d", int(sqrt(a * b) / 50 + 0.5) * 50 }')
        CAP_RATE[$w]=$mid
        if [ $((hi * 100)) -le $((lo * 110)) ] || [ "$mid" -le "$lo" ] || [ "$mid" -ge "$hi" ]; then
            CAP_DONE[$w]=1
        fi
    fi
}

# cap_search MODE: the replay's and the bare client's searches in lockstep,
# one run of each in turn, so that a busy spell of the shared machine falls
# on both. A rate that fails is run again in the next round (after the
# other's run) and fails only then. Sets CAP_LO[replay] and CAP_LO[floor],
# the highest rates sustained (0: none down to 125/s).
cap_search() {
    local mode=$1 w rate
    declare -gA CAP_LO=([replay]=0 [floor]=0) CAP_HI=([replay]=0 [floor]=0)
    declare -gA CAP_RATE=() CAP_DONE=([replay]=0 [floor]=0) CAP_STRIKE=([replay]=0 [floor]=0)
    cap_next replay
    cap_next floor
    while [ "${CAP_DONE[replay]}" = 0 ] || [ "${CAP_DONE[floor]}" = 0 ]; do
        for w in replay floor; do
            [ "${CAP_DONE[$w]}" = 0 ] || continue
            rate=${CAP_RATE[$w]}
            if cap_probe "$w" "$mode" "$rate"; then
                cap_line "$w" "$mode" "$rate" sustained
                CAP_LO[$w]=$rate CAP_STRIKE[$w]=0
            elif [ "${CAP_STRIKE[$w]}" = 0 ]; then
                cap_line "$w" "$mode" "$rate" "not sustained (run again next round)"
                CAP_STRIKE[$w]=1
                continue
            else
                cap_line "$w" "$mode" "$rate" "not sustained"
                CAP_HI[$w]=$rate CAP_STRIKE[$w]=0
            fi
            cap_next "$w"
        done
    done
}

# cap_timer: the machine's own wake-up lateness on the client CPU just now
# (bench/timer_baseline.c, 1,000/s for CAP_SECONDS): when its p99 is near
# CAP_LAG_US, the limit measures the machine rather than the clients.
cap_timer() {
    local secs=${CAP_SECONDS:-3}
    "${PIN_CLI[@]}" "$W/timer_baseline" 1000 $((1000 * secs)) "$ARRIVAL" >"$W/cap_timer.txt" ||
        die "timer_baseline failed"
    echo "   timer alone on the client CPU, 1,000/s for $secs s: p50 $(kv "$W/cap_timer.txt" p50_us)" \
        "p99 $(kv "$W/cap_timer.txt" p99_us) max $(kv "$W/cap_timer.txt" max_us) us"
    if awk "BEGIN { exit !($(kv "$W/cap_timer.txt" p99_us) > $CAP_LAG_US / 2) }"; then
        echo "   NOTE: the machine's own timer p99 is over half the limit: the capacities below measure"
        echo "   the machine's other load more than the clients; rerun on a quiet machine"
    fi
}

bench_capacity() {
    echo
    echo "## 5. capacity: highest open-loop rate with send lag p99 <= $CAP_LAG_US us, one replay worker"
    echo "thread (--threads 1) vs the bare client (bench/replay_floor.c); $ARRIVAL arrivals, 16 in / 2 out"
    echo "tokens, ${CAP_SECONDS:-3} s per run, serve --preset fast"
    start_server --preset fast
    synth "$W/cap_body.jsonl.zst" 1s 1 2
    bodies "$W/cap_body.jsonl.zst" 2 "$W/cap_body_stream.json" "$W/cap_body_plain.json"
    local mode rep flo label
    for mode in stream plain; do
        cap_timer
        cap_search "$mode"
        rep=${CAP_LO[replay]} flo=${CAP_LO[floor]}
        label=streaming
        [ "$mode" = plain ] && label=non-streaming
        echo "capacity, $label: replay $rep/s, bare client $flo/s, ratio $(calc "$rep / ($flo > 0 ? $flo : 1)")"
        row "capacity, $label (req/s, lag p99 <= 1 ms)" "$rep" "bare client $flo" \
            "$(calc "$rep / ($flo > 0 ? $flo : 1)")x" "-"
    done
    echo "(a rate is sustained when every request succeeds and the send lag p99 is within the limit;"
    echo " 'other': cores other programs kept busy during the run, which make a short run fail early;"
    echo " the search stops when its bounds are within 10 %)"
    stop_server
}

print_table() {
    [ -s "$TABLE" ] || return 0
    echo
    echo "== replay engine: summary ($MODE)"
    printf '%-52s %10s %22s %8s %4s\n' measure value "beside" ratio ok
    cat "$TABLE"
}

case $MODE in
    quick) bench_fidelity quick; bench_cost quick; bench_streams quick ;;
    fidelity) bench_fidelity "$ARG" ;;
    drift) bench_drift "${ARG:-10}" ;;
    cost) bench_cost "$ARG" ;;
    cpu) bench_cpu "$ARG" ;;
    vllm) bench_vllm "$ARG" ;;
    streams) bench_streams "$ARG" ;;
    million) bench_million "${ARG:-1000000}" ;;
    capacity) bench_capacity ;;
    all) bench_fidelity; bench_cost; bench_streams; bench_million ;;
    *) sed -n '2,34p' "$0" >&2; exit 2 ;;
esac
print_table
