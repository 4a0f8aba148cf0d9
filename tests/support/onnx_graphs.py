#!/usr/bin/env python3
"""Write one source's fp32 ONNX file both ways the ONNX writer can (tests/test_onnx_graph.py), in a child
process (libpaddle stays out of the test process)::

    python tests/support/onnx_graphs.py SRC OUT [--act relu] [--trim CORPUS] [--narrow]

OUT/direct.onnx (edgetext_converters.onnx_graph) and OUT/paddle2onnx.onnx (the traced graph) of the same
lowered (and, with --trim, vocabulary-trimmed) model; OUT/vocab.txt is the tokenizer vocabulary they index.
``--act relu`` swaps the activation in the config (same weights): both graphs must still agree.
``--narrow`` width-prunes the model first (edgetext_converters.pruning.slice_weights), differently per layer:
layer n keeps every (n+2)-th head and every (n+2)-th FFN neuron.
Prints a JSON summary line.
"""
from __future__ import annotations

import zlib  # noqa: F401  (before paddle)
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_helpers  # noqa: E402,F401  (puts the source folders on sys.path when not installed)


def main() -> None:
    from edgetext_converters import onnx_graph, passes, readers
    from edgetext_converters.options import ConvertOptions
    from edgetext_converters.passes import PassContext
    from edgetext_converters.writers import onnx as onnx_writer

    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out", type=Path)
    ap.add_argument("--act")
    ap.add_argument("--trim")
    ap.add_argument("--narrow", action="store_true")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    desc = readers.read(a.src)
    if a.act:
        desc.config = desc.config.copy(hidden_act=a.act)
    if a.narrow:
        from edgetext_converters import pruning

        cfg = desc.config
        keep = pruning.PrunePlan(heads=[list(range(0, cfg.heads_in(n), n + 2)) for n in range(cfg.num_hidden_layers)],
                                 ffn=[list(range(0, cfg.ffn_in(n), n + 2)) for n in range(cfg.num_hidden_layers)])
        desc.weights, desc.config = pruning.slice_weights(desc.weights, cfg, keep)
    trim = Path(a.trim).read_text(encoding="utf-8").splitlines() if a.trim else None
    ctx = PassContext(ConvertOptions(targets="onnx-x86", trim_vocab=a.trim), a.out / "work", trim_texts=trim)
    desc = passes.run_passes(desc, ctx, (passes.lower_to_graph, passes.normalize_io, passes.trim_vocab))
    why = onnx_graph.why_not(desc)
    onnx_writer.write_direct(desc, a.out / "direct.onnx")
    model_file, params_file = ctx.graph_files(desc.graph)
    onnx_writer.paddle_to_onnx(model_file, params_file, a.out / "paddle2onnx.onnx")
    (a.out / "vocab.txt").write_text("\n".join(desc.tokenizer.tokens) + "\n", encoding="utf-8")
    print(json.dumps({"why_not": why, "feeds": desc.graph.feed_names, "act": desc.config.hidden_act,
                      "use_task_id": desc.config.use_task_id, "model_type": desc.config.model_type,
                      "pad_id": desc.config.pad_token_id, "vocab_size": desc.tokenizer.vocab_size,
                      "layer_heads": desc.config.layer_heads, "layer_intermediate": desc.config.layer_intermediate}))


if __name__ == "__main__":
    main()
