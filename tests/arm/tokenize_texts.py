"""Tokenize texts with the public Tokenizer API and print the result as JSON.

Runs unchanged on the x86 host (the dev venv) and on emulated aarch64 (the cross-built
edgetext._native): tests/arm/test_arm_emulation.py compares the two outputs byte for byte.

    python tokenize_texts.py REQUEST.json > RESULT.json
    REQUEST: {"vocab": path, "options": {...from_file kwargs}, "texts": [...], "max_length": 64}
    RESULT:  {"machine": ..., "ids": [[...]], "call": {input_ids, token_type_ids, attention_mask, offset_mapping}}
"""
from __future__ import annotations

import json
import platform
import sys

from edgetext import Tokenizer


def main(request_path: str) -> None:
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    tok = Tokenizer.from_file(request["vocab"], **request.get("options", {}))
    texts = request["texts"]
    ids = [tok.encode(t) for t in texts[:20]]  # the one-text path
    batch = tok.encode_batch(texts)  # the batch path (threads in C)
    call = tok(texts, max_length=request.get("max_length", 64), truncation=True, padding="longest",
               return_offsets_mapping=True)
    firsts, seconds = texts[:30], texts[30:60][::-1]
    pairs = tok.encode_batch(firsts, text_pairs=seconds, max_length=48, truncation=True)  # longest-first
    threaded = tok.encode_batch(texts, threads=4)  # C worker threads (emulated on ARM) change nothing
    result = {
        "machine": platform.machine(),
        "ids": ids,
        "batch": batch,
        "pairs": pairs,
        "threads_agree": threaded == batch,
        "call": {key: value.tolist() for key, value in sorted(call.items())},
        "tokens": [tok.tokenize(t) for t in texts[:20]],
    }
    json.dump(result, sys.stdout, ensure_ascii=False, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
