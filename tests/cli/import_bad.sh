#!/usr/bin/env bash
# import_bad.sh — `trace convert` on the bad-input corpus (tests/data/bad):
# every broken file exits 3 with "FILE:LINE: field 'X'" on stderr and leaves
# no output file; --skip-invalid turns row errors into a count ("skipped N
# invalid rows (first: ...)") and exit 0, but not structural ones (a missing
# column, a truncated file). Empty files, binary garbage, truncated zstd and
# 10 MB lines are tried with every importer.
source "$(dirname "$0")/../lib.sh"

BAD=$ROOT/tests/data/bad
OUT=$T/out.jsonl

# case FORMAT FILE LINE FIELD SKIPPABLE [extra options...]
check_case() {
    local fmt=$1 file=$2 line=$3 field=$4 skippable=$5
    shift 5
    rm -f "$OUT"
    expect_err "$fmt $file: exit 3 at line $line, field '$field'" 3 \
        "^sagellm-bench: .*$file:$line: field '$field'" \
        "$BIN" trace convert --from "$fmt" "$BAD/$file" -o "$OUT" "$@"
    check "$fmt $file: no output file left" '[ ! -e "$OUT" ] && ! ls "$T"/out.jsonl.tmp-* >/dev/null 2>&1'
    if [ "$skippable" = 1 ]; then
        expect_err "$fmt $file --skip-invalid: counted" 0 \
            "skipped [0-9]+ invalid rows \(first: .*$file:$line: field '$field'" \
            "$BIN" trace convert --from "$fmt" "$BAD/$file" -o "$OUT" --skip-invalid "$@"
        ok "$fmt $file --skip-invalid: output validates" "$BIN" trace validate "$OUT"
    else
        expect_err "$fmt $file --skip-invalid: still fatal" 3 "$file:$line: field '$field'" \
            "$BIN" trace convert --from "$fmt" "$BAD/$file" -o "$OUT" --skip-invalid "$@"
    fi
}

check_case azure azure_missing_column.csv 1 GeneratedTokens 0
check_case azure azure_bad_timestamp.csv 3 TIMESTAMP 1
check_case azure azure_bad_number.csv 3 ContextTokens 1
check_case azure azure_out_of_order.csv 5 timestamp 1
check_case azure azure_extra_field.csv 3 '\(row\)' 1
check_case azure azure_quoted_newline.csv 5 GeneratedTokens 1
check_case burstgpt burstgpt_wrong_columns.csv 1 Timestamp 0
check_case burstgpt burstgpt_bad_number.csv 3 'Response tokens' 1
check_case burstgpt burstgpt_stray_quote.csv 3 '\(csv\)' 1
check_case burstgpt burstgpt_out_of_order.csv 3 timestamp 1
check_case splitwise splitwise_negative_time.csv 3 arrival_timestamp 1
check_case splitwise splitwise_short_row.csv 3 prompt_size 1
check_case mooncake mooncake_bad_json.jsonl 2 '\(json\)' 1
check_case mooncake mooncake_bad_hash.jsonl 2 hash_ids 1
check_case mooncake mooncake_missing_field.jsonl 3 output_length 1
check_case mooncake mooncake_out_of_order.jsonl 2 timestamp 1
check_case mooncake mooncake_bad_timestamp.jsonl 1 timestamp 1
check_case bailian bailian_duplicate_id.jsonl 2 chat_id 1
check_case bailian bailian_bad_parent.jsonl 2 parent_chat_id 1
check_case aibrix aibrix_bad_requests.jsonl 2 requests 1
check_case aibrix aibrix_bad_length.jsonl 1 'Prompt Length' 1
check_case sharegpt sharegpt_truncated.json 3 '\(json\)' 0
check_case sharegpt sharegpt_no_reply.json 3 conversations 1
check_case sharegpt sharegpt_bad_role.json 1 'conversations\[0\]\.from' 1
check_case sharegpt sharegpt_missing_comma.json 2 '\(json\)' 0
check_case jsonl jsonl_missing_field.jsonl 2 len 1 --map t=ts,input=len
check_case jsonl jsonl_bad_time.jsonl 2 ts 1 --map t=ts,input=len

# Out of order is documented as an error; --sort sorts in memory instead.
ok "azure out of order --sort" "$BIN" trace convert --from azure "$BAD/azure_out_of_order.csv" -o "$OUT" --sort
check "azure --sort keeps all 4 rows" '[ "$(grep -c t_us "$OUT")" = 4 ]'
ok "mooncake out of order --sort" "$BIN" trace convert --from mooncake "$BAD/mooncake_out_of_order.jsonl" -o "$OUT" --sort
ok "sorted output validates" "$BIN" trace validate "$OUT"

# Every importer: empty file, binary garbage, truncated zstd, a 10 MB line.
big=$T/big.line
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' '7' >"$big"
for fmt in azure burstgpt splitwise mooncake bailian aibrix sharegpt jsonl; do
    map=()
    [ "$fmt" = jsonl ] && map=(--map t=ts,input=n)
    expect_err "$fmt: empty file" 3 "empty.txt:1: field '" \
        "$BIN" trace convert --from "$fmt" "$BAD/empty.txt" -o "$OUT" "${map[@]}"
    expect_err "$fmt: binary garbage" 3 "garbage.bin:[0-9]+: field '" \
        "$BIN" trace convert --from "$fmt" "$BAD/garbage.bin" -o "$OUT" "${map[@]}"
    expect_err "$fmt: truncated zstd" 3 "truncated" \
        "$BIN" trace convert --from "$fmt" "$BAD/mooncake_truncated.jsonl.zst" -o "$OUT" "${map[@]}"
    case $fmt in
    azure)     { printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.0,1,1\n2023-11-16 18:15:47.0,'; cat "$big"; printf ',1\n'; } >"$T/long" ;;
    burstgpt)  { printf 'Timestamp,Model,Request tokens,Response tokens\n1,m,1,1\n2,m,'; cat "$big"; printf ',1\n'; } >"$T/long" ;;
    splitwise) { printf 'arrival_timestamp,prompt_size,token_size\n1,1,1\n2,1,'; cat "$big"; printf '\n'; } >"$T/long" ;;
    sharegpt)  { printf '[{"id": "a", "conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": "y"}]},\n'; cat "$big"; printf ']\n'; } >"$T/long" ;;
    *)         { printf '{"timestamp": 0, "input_length": 1, "output_length": 1, "ts": 0, "n": 1, "requests": [], "chat_id": 1, "parent_chat_id": -1}\n'; cat "$big"; printf '\n'; } >"$T/long" ;;
    esac
    expect_err "$fmt: 10 MB line is a bad row at line 2 or 3" 3 "long:[23]: field '" \
        "$BIN" trace convert --from "$fmt" "$T/long" -o "$OUT" "${map[@]}"
done

# Options the importers check themselves are usage errors (exit 2).
expect_err "jsonl: unknown --map name" 2 "--map: unknown name 'x'" \
    "$BIN" trace convert --from jsonl "$BAD/jsonl_bad_time.jsonl" -o "$OUT" --map x=ts
expect_err "sharegpt: bad --arrival" 2 "--arrival" \
    "$BIN" trace convert --from sharegpt "$ROOT/tests/data/sharegpt_small.json" -o "$OUT" --arrival weibull

finish
