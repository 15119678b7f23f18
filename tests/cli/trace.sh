#!/usr/bin/env bash
# CLI tests for `sagellm-bench trace` on the native format: help and usage
# errors, cat, validate, inspect, slice, merge, scale, sort (and the hint
# for unsorted traces), JSON Lines with epoch times, zstd round trips,
# unknown fields surviving, and bad input with exit codes.
source "$(dirname "$0")/../lib.sh"
D=$ROOT/tests/data
S=$D/small.jsonl

# --- top level ---
expect_out "--version prints the version" '^sagellm-bench [0-9]+\.[0-9]+\.[0-9]+$' "$BIN" --version
expect_out "help lists commands" 'replay' "$BIN" help
expect_out "help CMD shows usage" '^usage: sagellm-bench trace' "$BIN" help trace
expect_out "CMD --help shows usage" '^usage: sagellm-bench trace slice' "$BIN" trace slice --help
expect_out "help trace SUB" '^usage: sagellm-bench trace merge' "$BIN" help trace merge
expect_err "no command: usage, exit 2" 2 '^usage: ' "$BIN"
expect_err "unknown command: exit 2" 2 "unknown command 'frobnicate'" "$BIN" frobnicate
expect_err "unknown trace subcommand" 2 "unknown subcommand 'nope'" "$BIN" trace nope
expect_err "unknown option: one line + usage" 2 "unknown option '--bogus'" "$BIN" trace inspect --bogus "$S"
check "unknown option: usage line follows" "grep -q '^usage: sagellm-bench trace inspect' '$T/.err' && [ \$(wc -l < '$T/.err') = 2 ]"
expect_err "missing option value" 2 "option '--from' needs a value" "$BIN" trace slice "$S" -o "$T/x" --from
expect_err "missing file" 2 'missing FILE' "$BIN" trace inspect
expect_err "convert without --from" 2 'missing --from' "$BIN" trace convert x -o y
expect_err "convert unknown format" 2 "unknown format 'xyz'" "$BIN" trace convert --from xyz x -o y
expect_err "bad duration" 2 "--from needs a time" "$BIN" trace slice "$S" --from 5parsecs -o "$T/x"
for c in serve replay capture report compare; do
    expect_out "$c --help works" "^usage: sagellm-bench $c" "$BIN" "$c" --help
done

# --- cat / validate / inspect ---
expect_out "cat passes lines through" '"x_custom":\{"k":\[1,2\]\}' "$BIN" trace cat "$S"
check "cat output equals the file" "'$BIN' trace cat '$S' | cmp -s - '$S'"
zstd -q -c "$S" > "$T/small.jsonl.zst"
check "cat of zstd equals the plain file" "'$BIN' trace cat '$T/small.jsonl.zst' | cmp -s - '$S'"
check "cat reads stdin" "'$BIN' trace cat - < '$T/small.jsonl.zst' | cmp -s - '$S'"
check "cat --no-header" "[ \$('$BIN' trace cat --no-header '$S' | wc -l) = 5 ]"
expect_out "validate OK" 'OK: 5 records' "$BIN" trace validate "$S"
expect_out "inspect counts" '^records +5$' "$BIN" trace inspect "$S"
expect_out "inspect sessions" '1 sessions, 2 records' "$BIN" trace inspect "$S"
expect_out "inspect prefix sharing" '33.3% of 6 hash blocks' "$BIN" trace inspect "$S"
expect_out "inspect --json" '"records":[[:space:]]*5,' "$BIN" trace inspect --json "$S"
expect_out "inspect body share" '20.0% of records' "$BIN" trace inspect "$S"
check "inspect to a full disk: exit 4, says so" \
    "'$BIN' trace inspect '$S' >/dev/full 2>'$T/full.err'; [ \$? = 4 ] && grep -q 'standard output: write error: No space' '$T/full.err'"

# --- slice ---
ok "slice window" "$BIN" trace slice "$S" --from 0.5s --to 1.5s -o "$T/sl.jsonl"
check "slice keeps the window, rebased" "[ \"\$('$BIN' trace cat --no-header '$T/sl.jsonl' | sed -E 's/.*\"t_us\":([0-9]+).*\"id\":\"([a-z0-9]+)\".*/\\1 \\2/' | tr '\\n' ' ')\" = '0 r2 500000 r3 ' ]"
check "slice records history" "head -1 '$T/sl.jsonl' | grep -q '\"history\":\\[{\"op\":\"slice\",\"from_us\":500000,\"to_us\":1500000'"
check "slice keeps unknown header fields" "head -1 '$T/sl.jsonl' | grep -q '\"x_note\":\"hand-made test trace\"'"
ok "slice --first" "$BIN" trace slice "$S" --first 2 -o "$T/first.jsonl.zst"
check "slice --first writes zstd" "[ \"\$(head -c 4 '$T/first.jsonl.zst' | od -An -tx1 | tr -d ' ')\" = 28b52ffd ]"
check "slice --first keeps 2 with unknown fields" "[ \$('$BIN' trace cat --no-header '$T/first.jsonl.zst' | wc -l) = 2 ] && '$BIN' trace cat '$T/first.jsonl.zst' | grep -q x_custom"
expect_err "slice needs a range" 2 'give --from/--to or --first' "$BIN" trace slice "$S" -o "$T/x"
# --level: every command that writes a trace checks it (zstd's 0..22)
expect_err "slice --level abc: exit 2" 2 "trace slice: --level needs 0..22, got 'abc'" "$BIN" trace slice "$S" --first 1 --level abc -o "$T/x"
expect_err "merge --level 23: exit 2" 2 "trace merge: --level needs 0..22, got '23'" "$BIN" trace merge "$S" "$S" --level 23 -o "$T/x"
expect_err "scale --level -1: exit 2" 2 "trace scale: --level needs 0..22, got '-1'" "$BIN" trace scale "$S" --speed 2 --level -1 -o "$T/x"
expect_err "sort --level 3x: exit 2" 2 "trace sort: --level needs 0..22, got '3x'" "$BIN" trace sort "$S" --level 3x -o "$T/x"
check "a refused --level writes nothing" "[ ! -e '$T/x' ]"
ok "slice --level 19" "$BIN" trace slice "$S" --first 2 --level 19 -o "$T/l19.jsonl.zst"
check "slice --level 19 keeps the records" "[ \$('$BIN' trace cat --no-header '$T/l19.jsonl.zst' | wc -l) = 2 ]"
# --first alone rebases on the first record kept, like --from does
"$BIN" trace slice "$S" --from 0.5s -o "$T/late.jsonl"
ok "slice --first of a trace that starts late" "$BIN" trace slice "$T/late.jsonl" --from 0.25s --first 2 -o "$T/late2.jsonl"
ok "slice --first alone" "$BIN" trace slice "$T/late2.jsonl" --first 1 -o "$T/late1.jsonl"
check "slice --first rebases: the first record kept is at 0" \
    "'$BIN' trace cat --no-header '$T/late1.jsonl' | grep -q '^{\"t_us\":0,'"
check "slice --from keeps the wait before the first arrival in the window" \
    "[ \"\$('$BIN' trace cat --no-header '$T/late2.jsonl' | head -1 | sed -E 's/.*\"t_us\":([0-9]+).*/\\1/')\" != 0 ]"

# --- sort, and the hint for an unsorted trace ---
{ head -1 "$S"; printf '%s\n' '{"t_us":900,"id":"u1","api":"completions","input_tokens":3,"output_tokens":2}' \
    '{"t_us":100,"id":"u2","api":"completions","input_tokens":3,"output_tokens":2}' \
    '{"t_us":100,"id":"u3","api":"completions","input_tokens":3,"output_tokens":2}'; } > "$T/unsorted.jsonl"
expect_err "an unsorted trace: validate names the field and suggests a command" 3 \
    "field 't_us': expected records sorted by arrival, got 100 after 900 \\(sort it with: sagellm-bench trace sort " \
    "$BIN" trace validate "$T/unsorted.jsonl"
hint=$(sed -n 's/.*(sort it with: sagellm-bench \(.*\))$/\1/p' "$T/.err" | head -1)
check "the suggested command is there" "[ -n \"\$hint\" ]"
ok "the suggested command succeeds" eval "'$BIN' $hint"
ok "its output validates" "$BIN" trace validate "$T/unsorted.sorted.jsonl"
check "sort orders by time, equal times in input order, header kept" \
    "[ \"\$('$BIN' trace cat --no-header '$T/unsorted.sorted.jsonl' | grep -o '\"id\":\"u[0-9]\"' | tr -d '\\n')\" = '\"id\":\"u2\"\"id\":\"u3\"\"id\":\"u1\"' ] && head -1 '$T/unsorted.sorted.jsonl' | grep -q '\"op\":\"sort\"'"
expect_err "replay of an unsorted trace suggests the same command" 3 "sort it with: sagellm-bench trace sort" \
    "$BIN" replay "$T/unsorted.jsonl" --client sagellm --engine sim --out "$T/unsorted_run" -q
ok "replay of the sorted trace runs" "$BIN" replay "$T/unsorted.sorted.jsonl" --client sagellm --engine sim \
    --engine-opt preset=fast --out "$T/sorted_run" -q
zstd -q -c "$T/unsorted.jsonl" > "$T/unsorted.jsonl.zst"
expect_err "a zstd trace: the suggestion keeps the compression" 3 \
    "sort it with: sagellm-bench trace sort '[^']*unsorted.jsonl.zst' -o '[^']*unsorted.sorted.jsonl.zst'" \
    "$BIN" trace validate "$T/unsorted.jsonl.zst"
expect_err "sort: missing -o" 2 "missing -o OUT" "$BIN" trace sort "$T/unsorted.jsonl"

# --- JSON Lines with wall-clock times ---
printf '%s\n' '{"ts": 1733400000.5, "len": 10, "gen": 3}' '{"ts": 1733400000.75, "len": 11, "gen": 3}' > "$T/epoch.jsonl"
ok "jsonl with epoch times converts" "$BIN" trace convert --from jsonl --map t=ts,input=len,output=gen "$T/epoch.jsonl" -o "$T/epoch.trace.jsonl"
check "epoch times rebased on the first record, the epoch kept as t0" \
    "head -1 '$T/epoch.trace.jsonl' | grep -q '\"t0\":\"2024-12-05T12:00:00.500000Z\"' && grep -q '^{\"t_us\":0,' '$T/epoch.trace.jsonl' && grep -q '^{\"t_us\":250000,' '$T/epoch.trace.jsonl'"
expect_out "the rebased trace lasts a quarter second" 'duration +0\.250 s' "$BIN" trace inspect "$T/epoch.trace.jsonl"
printf '%s\n' '{"ts": 1733400000.75, "len": 10}' '{"ts": 1733400000.5, "len": 11}' > "$T/epoch_unsorted.jsonl"
expect_err "jsonl out of order names the mapped field and suggests --sort" 3 \
    "epoch_unsorted.jsonl:2: field 'ts': out of order.*re-run with --sort" \
    "$BIN" trace convert --from jsonl --map t=ts,input=len "$T/epoch_unsorted.jsonl" -o "$T/x.jsonl"
ok "... and the suggested --sort works" "$BIN" trace convert --from jsonl --map t=ts,input=len --sort \
    "$T/epoch_unsorted.jsonl" -o "$T/x.jsonl"
check "--sort rebases on the earliest record" "grep -q '^{\"t_us\":0,.*\"input_tokens\":11' '$T/x.jsonl'"

# --- merge ---
ok "merge two traces" "$BIN" trace merge "$S" "$T/sl.jsonl" -o "$T/m.jsonl"
check "merge count" "[ \$('$BIN' trace cat --no-header '$T/m.jsonl' | wc -l) = 7 ]"
check "merge is ordered" "'$BIN' trace validate -q '$T/m.jsonl'"
check "merge header lists inputs" "head -1 '$T/m.jsonl' | grep -q '\"source\":\"merge\"' && head -1 '$T/m.jsonl' | grep -q '\"inputs\"'"
ok "merge --prefix-ids" "$BIN" trace merge --prefix-ids "$S" "$S" -o "$T/mp.jsonl"
check "prefixed ids unique" "[ \$('$BIN' trace cat --no-header '$T/mp.jsonl' | grep -o '\"id\":\"[^\"]*\"' | sort -u | wc -l) = 10 ]"
check "merge keeps unknown fields" "grep -q '\"x_custom\":{\"k\":\\[1,2\\]}' '$T/m.jsonl'"

# --- scale ---
ok "scale --speed 2" "$BIN" trace scale "$S" --speed 2 -o "$T/sc.jsonl"
check "scale halves times and think" "grep -q '\"t_us\":1250000' '$T/sc.jsonl' && grep -q '\"think_us\":100000' '$T/sc.jsonl'"
check "scale keeps orig timings" "grep -q '\"ttft_us\":81000' '$T/sc.jsonl'"
ok "scale --rate 10" "$BIN" trace scale "$S" --rate 10 -o "$T/sr.jsonl"
expect_out "scaled rate is 10/s" 'mean 10.000/s' "$BIN" trace inspect "$T/sr.jsonl"
expect_err "scale needs exactly one" 2 'exactly one of' "$BIN" trace scale "$S" --speed 2 --rate 3 -o "$T/x"
expect_err "scale --rate refuses stdin" 2 'give a file' "$BIN" trace scale - --rate 3 -o "$T/x"

# --- bad input ---
printf '{"format":"sagellm-trace","version":1}\n{"t_us":1,"id":"a","api":"chat","input_tokens":"many"}\n{"t_us":2,"id":"b","api":"chat","input_tokens":2}\nnot json\n' > "$T/bad.jsonl"
expect_err "validate names file:line:field" 3 'bad\.jsonl:2: field .input_tokens.: expected a non-negative integer, got string "many"' "$BIN" trace validate "$T/bad.jsonl"
check "validate lists every problem" "grep -q 'bad.jsonl:4: invalid JSON' '$T/.err'"
check "validate summary" "grep -q 'INVALID: 2 problems, 1 valid records' '$T/.out'"
expect_err "inspect stops at bad line, exit 3" 3 'bad\.jsonl:2: field' "$BIN" trace inspect "$T/bad.jsonl"
expect_out "inspect --skip-invalid counts skipped records" '^skipped invalid +2$' "$BIN" trace inspect --skip-invalid "$T/bad.jsonl"
check "inspect --skip-invalid reports the valid records" "grep -Eq '^records +1$' '$T/.out'"
head -c 30 "$T/small.jsonl.zst" > "$T/trunc.jsonl.zst"
expect_err "truncated zstd says truncated" 3 'truncated' "$BIN" trace validate "$T/trunc.jsonl.zst"
expect_err "truncated zstd in cat, exit 3" 3 'truncated' "$BIN" trace cat "$T/trunc.jsonl.zst"
head -c 4000 /dev/urandom > "$T/garbage.bin"
expect_err "binary garbage: clear error" 3 'garbage\.bin:1' "$BIN" trace validate "$T/garbage.bin"
: > "$T/empty.jsonl"
expect_err "empty file" 3 'empty file' "$BIN" trace inspect "$T/empty.jsonl"
expect_err "missing file: exit 4" 4 'cannot open' "$BIN" trace validate "$T/nope.jsonl"
{ head -1 "$S"; printf '{"t_us":1,"id":"a","api":"chat","input_tokens":1,"pad":"'; head -c 10485760 /dev/zero | tr '\0' 'x'; printf '"}\n'; } > "$T/big.jsonl"
expect_out "a 10 MB line is read whole" 'OK: 1 records' "$BIN" trace validate "$T/big.jsonl"
{ head -1 "$S"; head -c 10485760 /dev/zero | tr '\0' 'x'; printf '\n'; } > "$T/bigbad.jsonl"
expect_err "a 10 MB garbage line: invalid JSON" 3 'bigbad\.jsonl:2: invalid JSON at column 1' "$BIN" trace validate "$T/bigbad.jsonl"
expect_err "writing into a missing directory: exit 4" 4 'cannot create' "$BIN" trace slice "$S" --first 1 -o "$T/no/such/dir.jsonl"
check "no partial output left behind" "! ls '$T'/no 2>/dev/null"

finish
