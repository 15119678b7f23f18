#!/usr/bin/env bash
# CLI tests for `sagellm-bench trace synth` and `trace materialize`: help,
# usage errors and bad DIST specs (exit 2), bad empirical files (3, 4),
# reproducibility, sessions and prefixes, and prompt bodies end to end.
source "$(dirname "$0")/../lib.sh"

SYN=("$BIN" trace synth)
MAT=("$BIN" trace materialize)
BASE=(--duration 30s --rate 5 --input uniform:50:500 --output fixed:20)

# --- help and usage errors ---
expect_out "synth --help" '^usage: sagellm-bench trace synth -o OUT --duration D --rate R' "${SYN[@]}" --help
check "synth --help documents DIST" "grep -q 'lognormal:MEAN:SIGMA' '$T/.out'"
expect_out "help trace synth" '^usage: sagellm-bench trace synth' "$BIN" help trace synth
expect_out "materialize --help" '^usage: sagellm-bench trace materialize FILE -o OUT' "${MAT[@]}" --help
expect_err "synth: missing -o" 2 'missing -o OUT' "${SYN[@]}" "${BASE[@]}"
check "synth: usage line follows the error" "grep -q '^usage: sagellm-bench trace synth' '$T/.err' && [ \$(wc -l < '$T/.err') = 2 ]"
expect_err "synth: missing --duration" 2 'missing --duration' "${SYN[@]}" -o "$T/x" --rate 1 --input fixed:1 --output fixed:1
expect_err "synth: missing --rate" 2 'missing --rate' "${SYN[@]}" -o "$T/x" --duration 1s --input fixed:1 --output fixed:1
expect_err "synth: missing --input" 2 'missing --input' "${SYN[@]}" -o "$T/x" --duration 1s --rate 1 --output fixed:1
expect_err "synth: missing --output" 2 'missing --output' "${SYN[@]}" -o "$T/x" --duration 1s --rate 1 --input fixed:1
expect_err "synth: bad --rate" 2 "--rate needs a positive number" "${SYN[@]}" -o "$T/x" --duration 1s --rate -3 --input fixed:1 --output fixed:1
expect_err "synth: bad --duration" 2 "--duration needs a positive duration" "${SYN[@]}" -o "$T/x" --duration soon --rate 1 --input fixed:1 --output fixed:1
expect_err "synth: unknown option" 2 "unknown option '--bogus'" "${SYN[@]}" -o "$T/x" "${BASE[@]}" --bogus
expect_err "synth: option without value" 2 "option '--seed' needs a value" "${SYN[@]}" -o "$T/x" "${BASE[@]}" --seed
expect_err "synth: stray argument" 2 "unexpected argument 'extra'" "${SYN[@]}" -o "$T/x" "${BASE[@]}" extra
expect_err "synth: bad DIST numbers" 2 "--input: expected uniform:MIN:MAX with non-negative integers, got 'uniform:a:b'" \
    "${SYN[@]}" -o "$T/x" --duration 1s --rate 1 --input uniform:a:b --output fixed:1
check "synth: bad DIST prints the usage line" "grep -q '^usage: sagellm-bench trace synth' '$T/.err'"
expect_err "synth: unknown DIST" 2 "--output: unknown distribution 'gauss'" \
    "${SYN[@]}" -o "$T/x" --duration 1s --rate 1 --input fixed:1 --output gauss:1:2
expect_err "synth: lognormal needs MEAN > 0" 2 "lognormal:MEAN:SIGMA with MEAN > 0" \
    "${SYN[@]}" -o "$T/x" --duration 1s --rate 1 --input lognormal:0:1 --output fixed:1
expect_err "synth: bad arrival" 2 "--arrival: expected an arrival process poisson, gamma:CV or constant" \
    "${SYN[@]}" -o "$T/x" "${BASE[@]}" --arrival bursty
expect_err "synth: bad think" 2 "--think: expected exponential:MEAN with a duration" \
    "${SYN[@]}" -o "$T/x" "${BASE[@]}" --sessions fixed:2 --think exponential:never
expect_err "synth: --think needs --sessions" 2 "--think: only meaningful with --sessions" \
    "${SYN[@]}" -o "$T/x" "${BASE[@]}" --think fixed:1s
expect_err "synth: --block-size needs hash ids" 2 "--block-size only applies with --prefix or --sessions" \
    "${SYN[@]}" -o "$T/x" "${BASE[@]}" --block-size 16
expect_err "synth: bad --prefix" 2 "--prefix needs TOKENS:GROUPS" "${SYN[@]}" -o "$T/x" "${BASE[@]}" --prefix 512
expect_err "synth: bad --api" 2 "--api must be chat, completions or generate" "${SYN[@]}" -o "$T/x" "${BASE[@]}" --api soap
check "synth: no output left after errors" "[ ! -e '$T/x' ]"

# --- empirical files ---
printf '100 1\n200 3\n' > "$T/lens.txt"
ok "synth: empirical value file" "${SYN[@]}" -o "$T/emp.jsonl" --duration 20s --rate 10 --input "empirical:$T/lens.txt" --output fixed:5
check "synth: empirical values only" "[ \$(tail -n +2 '$T/emp.jsonl' | grep -cvE '\"input_tokens\":(100|200),') = 0 ]"
printf '100\nlots\n' > "$T/bad.txt"
expect_err "synth: malformed empirical file (exit 3)" 3 "bad.txt:2: value: expected a non-negative integer, got 'lots'" \
    "${SYN[@]}" -o "$T/x" --duration 1s --rate 1 --input "empirical:$T/bad.txt" --output fixed:1
expect_err "synth: missing empirical file (exit 4)" 4 "nosuch.txt" \
    "${SYN[@]}" -o "$T/x" --duration 1s --rate 1 --input "empirical:$T/nosuch.txt" --output fixed:1
ok "synth: empirical from a trace" "${SYN[@]}" -o "$T/emp2.jsonl" --duration 20s --rate 10 --input "empirical:$T/emp.jsonl" --output "empirical:$T/emp.jsonl"
check "synth: trace-derived values" "[ \$(tail -n +2 '$T/emp2.jsonl' | grep -cvE '\"input_tokens\":(100|200),\"output_tokens\":5' ) = 0 ]"

# --- records ---
ok "synth: plain trace" "${SYN[@]}" -o "$T/a.jsonl" "${BASE[@]}" --seed 5
check "synth: reports the count" "grep -qE '^synth: [0-9]+ records written to' '$T/.err'"
expect_out "synth: output validates" 'OK: [0-9]+ records' "$BIN" trace validate "$T/a.jsonl"
check "synth: header says synth and the seed" "head -n 1 '$T/a.jsonl' | grep -q '\"source\":\"synth\".*\"seed\":5'"
check "synth: first record at 0" "sed -n 2p '$T/a.jsonl' | grep -q '^{\"t_us\":0,\"id\":0,\"api\":\"chat\",\"input_tokens\":'"
check "synth: rate about right (150 expected)" "n=\$(( \$(wc -l < '$T/a.jsonl') - 1 )); [ \$n -gt 90 ] && [ \$n -lt 220 ]"
ok "synth: same seed again" "${SYN[@]}" -o "$T/b.jsonl.zst" "${BASE[@]}" --seed 5
check "synth: same seed, same records" "'$BIN' trace cat --no-header '$T/b.jsonl.zst' | cmp -s - <(tail -n +2 '$T/a.jsonl')"
ok "synth: other seed" "${SYN[@]}" -o "$T/c.jsonl" "${BASE[@]}" --seed 6
check "synth: other seed, other records" "! cmp -s <(tail -n +2 '$T/a.jsonl') <(tail -n +2 '$T/c.jsonl')"
ok "synth: constant arrivals" "${SYN[@]}" -o "$T/k.jsonl" --duration 1s --rate 4 --arrival constant --input fixed:8 --output fixed:2
check "synth: constant arrivals are exact" "[ \"\$(tail -n +2 '$T/k.jsonl' | sed -E 's/^\\{\"t_us\":([0-9]+),.*/\\1/' | paste -sd,)\" = 0,250000,500000,750000 ]"
ok "synth: --max-records" "${SYN[@]}" -o "$T/m.jsonl" --duration 1h --rate 100 --input fixed:8 --output fixed:2 --max-records 37 --api completions --model tiny
check "synth: exactly N records" "[ \$(wc -l < '$T/m.jsonl') = 38 ]"
check "synth: api and model in records" "[ \$(tail -n +2 '$T/m.jsonl' | grep -c '\"api\":\"completions\",\"model\":\"tiny\"') = 37 ]"
ok "synth: to stdout" bash -c "'$BIN' trace synth -o - --duration 2s --rate 3 --input fixed:4 --output fixed:1 --arrival gamma:2 > '$T/s.jsonl'"
expect_out "synth: stdout trace validates" 'OK' "$BIN" trace validate "$T/s.jsonl"

# --- sessions and prefixes ---
ok "synth: sessions and prefixes" "${SYN[@]}" -o "$T/sess.jsonl.zst" --duration 2m --rate 1 --input uniform:20:200 \
    --output uniform:10:100 --sessions uniform:2:5 --think exponential:3s --prefix 100:2 --block-size 16 --seed 3
check "synth: sessions summary" "grep -qE 'records in [0-9]+ sessions' '$T/.err'"
expect_out "synth: sessions trace validates" 'OK' "$BIN" trace validate "$T/sess.jsonl.zst"
"$BIN" trace cat "$T/sess.jsonl.zst" > "$T/sess.jsonl"
check "synth: header block_size and parameters" "head -n 1 '$T/sess.jsonl' | grep -q '\"block_size\":16,.*\"sessions\":\"uniform:2:5\",\"think\":\"exponential:3s\",\"prefix_tokens\":100,\"prefix_groups\":2'"
check "synth: later turns have parent and think_us" "grep -q '\"turn\":1,\"parent\":[0-9]*,\"think_us\":[0-9]*' '$T/sess.jsonl'"
check "synth: every first turn starts with a prefix group's 6 blocks" \
    "[ \$(grep '\"turn\":0,' '$T/sess.jsonl' | grep -cvE '\"hash_ids\":\\[(0,1,2,3,4,5|6,7,8,9,10,11),') = 0 ]"
# Mooncake's rule: len(hash_ids) == ceil(input_tokens / block_size).
check "synth: one hash id per block" "tail -n +2 '$T/sess.jsonl' | awk -F'\"input_tokens\":' '{split(\$2,a,\",\"); n=a[1]; m=split(\$0,h,\"hash_ids\\\":\\\\[\"); split(h[2],ids,\",\"); if (length(ids) != int((n+15)/16)) bad++} END {exit bad>0}'"

# --- materialize ---
ok "materialize: chat bodies" "${MAT[@]}" "$T/sess.jsonl.zst" -o "$T/mat.jsonl" --model served --seed 9
check "materialize: reports the count" "grep -qE 'records given a body' '$T/.err'"
expect_out "materialize: output validates" 'OK' "$BIN" trace validate "$T/mat.jsonl"
check "materialize: every record has a body" "[ \$(tail -n +2 '$T/mat.jsonl' | grep -vc '\"body\":{\"model\":\"served\",\"messages\":\\[{\"role\":\"user\",\"content\":\"') = 0 ]"
check "materialize: keeps the other fields" "[ \"\$(tail -n +2 '$T/mat.jsonl' | sed 's/,\"body\":.*//')\" = \"\$(tail -n +2 '$T/sess.jsonl' | sed 's/}\$//')\" ]"
check "materialize: marks synthetic bodies" "[ \$(tail -n +2 '$T/mat.jsonl' | grep -vc '},\"body_synthetic\":true}\$') = 0 ]"
check "materialize: history in the header" "head -n 1 '$T/mat.jsonl' | grep -q '\"history\":\\[{\"op\":\"materialize\",\"model\":\"served\",\"seed\":9'"
# Words in each prompt == input_tokens (one token per word).
check "materialize: prompt word count == input_tokens" \
    "tail -n +2 '$T/mat.jsonl' | sed -E 's/.*\"input_tokens\":([0-9]+),.*\"content\":\"([a-z ]*)\".*/\\1 \\2/' | awk '{ if (NF - 1 != \$1) bad++ } END { exit bad > 0 }'"
ok "materialize: again, same seed" "${MAT[@]}" "$T/sess.jsonl.zst" -o "$T/mat2.jsonl" --model served --seed 9
check "materialize: deterministic" "cmp -s <(tail -n +2 '$T/mat.jsonl') <(tail -n +2 '$T/mat2.jsonl')"

# Equal hash ids give identical text blocks.
cat > "$T/h.jsonl" <<'EOF'
{"format":"sagellm-trace","version":1,"source":"synth","block_size":4}
{"t_us":0,"id":"a","api":"completions","input_tokens":8,"output_tokens":3,"hash_ids":[10,20]}
{"t_us":1,"id":"b","api":"completions","input_tokens":8,"output_tokens":3,"hash_ids":[10,30]}
{"t_us":2,"id":"c","api":"completions","input_tokens":6,"output_tokens":3,"hash_ids":[99,20]}
{"t_us":3,"id":"d","api":"chat","body":{"messages":[{"role":"user","content":"hi"}]},"x_keep":[1]}
EOF
ok "materialize: stdin to stdout" bash -c "'$BIN' trace materialize - -o - < '$T/h.jsonl' > '$T/hm.jsonl'"
P() { sed -n "$1p" "$T/hm.jsonl" | sed -E 's/.*"prompt":"([a-z ]*)".*/\1/'; }
check "materialize: shared first block" "[ \"\$(P 2 | cut -d' ' -f1-4)\" = \"\$(P 3 | cut -d' ' -f1-4)\" ]"
check "materialize: different second block" "[ \"\$(P 2 | cut -d' ' -f5-8)\" != \"\$(P 3 | cut -d' ' -f5-8)\" ]"
check "materialize: partial block = first words of the block" "[ \"\$(P 4 | cut -d' ' -f5-6)\" = \"\$(P 2 | cut -d' ' -f5-6)\" ]"
check "materialize: max_tokens from output_tokens" "[ \$(grep -c '\"max_tokens\":3},\"body_synthetic\":true}' '$T/hm.jsonl') = 3 ]"
check "materialize: body records untouched" "sed -n 5p '$T/hm.jsonl' | grep -qx '{\"t_us\":3,\"id\":\"d\",\"api\":\"chat\",\"body\":{\"messages\":\\[{\"role\":\"user\",\"content\":\"hi\"}\\]},\"x_keep\":\\[1\\]}'"
ok "materialize: --api chat" "${MAT[@]}" "$T/h.jsonl" -o "$T/hc.jsonl" --api chat
check "materialize: --api rewrites api and body" "[ \$(grep -c '\"api\":\"chat\".*\"messages\"' '$T/hc.jsonl') = 4 ]"

expect_err "materialize: missing FILE" 2 'missing FILE' "${MAT[@]}" -o "$T/y"
expect_err "materialize: missing -o" 2 'missing -o OUT' "${MAT[@]}" "$T/h.jsonl"
expect_err "materialize: bad --api" 2 "--api must be chat, completions or generate" "${MAT[@]}" "$T/h.jsonl" -o "$T/y" --api rpc
expect_err "materialize: bad --seed" 2 "--seed needs a non-negative integer" "${MAT[@]}" "$T/h.jsonl" -o "$T/y" --seed -1
expect_err "materialize: unknown option" 2 "unknown option '--fast'" "${MAT[@]}" "$T/h.jsonl" -o "$T/y" --fast
printf '{"format":"sagellm-trace","version":1,"source":"synth"}\n{"t_us":0,"id":1,"api":"chat","input_tokens":"many"}\n' > "$T/badrec.jsonl"
expect_err "materialize: bad record (exit 3)" 3 "badrec.jsonl:2: field 'input_tokens'" "${MAT[@]}" "$T/badrec.jsonl" -o "$T/y"
printf '{"format":"sagellm-trace","version":1}\n{"t_us":0,"id":"ok","api":"chat","input_tokens":10}\n{"t_us":1,"id":"huge","api":"chat","input_tokens":1393141570}\n' >"$T/huge.jsonl"
expect_err "materialize: a length past any context window is refused at once (exit 3)" 3 \
    "huge.jsonl:3: field 'input_tokens': more than the 10,000,000 tokens" timeout 20 "${MAT[@]}" "$T/huge.jsonl" -o "$T/y"
check "materialize: nothing left after a failure" "[ ! -e '$T/y' ]"
expect_err "materialize: not a trace (exit 3)" 3 "lens.txt:1" "${MAT[@]}" "$T/lens.txt" -o "$T/y"

finish
