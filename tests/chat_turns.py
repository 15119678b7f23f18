#!/usr/bin/env python3
"""Multi-turn chat conversations, as a chat application sends them, for the
capture session tests: each turn's request carries the conversation so far,
the previous replies included, and bodies are written the way the Python
SDKs write them (json.dumps with its default ", " and ": " separators).
Conversations are interleaved turn by turn: c0 t0, c1 t0, c0 t1, ...
The user message of conversation C, turn T is "conversation C turn T".

usage: chat_turns.py URL TURNS[,TURNS...] [--header NAME] [--field NAME] [--fresh]
  TURNS     turns of each conversation (3,2: two conversations)
  --header  send header NAME: conv-C with every request
  --field   put "NAME": "conv-C" in every body
  --fresh   send only the new user message (no history), so only the
            header or field tells the conversations apart
Exits 1 when a request fails.
"""
import json
import sys
import urllib.request


def main():
    args = sys.argv[1:]
    url, turns = args[0].rstrip("/") + "/v1/chat/completions", [int(t) for t in args[1].split(",")]
    header = args[args.index("--header") + 1] if "--header" in args else None
    field = args[args.index("--field") + 1] if "--field" in args else None
    fresh = "--fresh" in args
    history = [[] for _ in turns]
    for t in range(max(turns)):
        for c, n in enumerate(turns):
            if t >= n:
                continue
            user = {"role": "user", "content": "conversation %d turn %d" % (c, t)}
            msgs = [user] if fresh else history[c] + [user]
            body = {"model": "sagellm-sim", "messages": msgs, "max_tokens": 4, "temperature": 1.0}
            if field:
                body[field] = "conv-%d" % c
            req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            if header:
                req.add_header(header, "conv-%d" % c)
            with urllib.request.urlopen(req, timeout=30) as r:
                reply = json.load(r)["choices"][0]["message"]["content"]
            history[c] = msgs + [{"role": "assistant", "content": reply}]


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - a test driver: any failure is the exit status
        print("chat_turns.py: %s" % e, file=sys.stderr)
        sys.exit(1)
