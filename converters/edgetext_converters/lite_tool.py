"""Paddle Lite work in a child process (standalone script: stdlib + numpy + paddlelite only).

Lite's ``opt`` and its runtime abort the whole process on some inputs (the 0-D
``fill_constant`` of PaddleNLP exports: ``fill_constant_op.cc:44``), and libpaddle and
Lite's OpenMP runtimes should not share a process. So the converters call::

    python lite_tool.py opt MODEL.pdmodel PARAMS.pdiparams OUT_BASE x86|arm [int8]
    python lite_tool.py bench MODEL.nb [SEQ] [RUNS]         # {"median_ms": ...} batch 1
    python lite_tool.py info MODEL.nb                     # {"inputs": [...], "outputs": [...]}
    python lite_tool.py run MODEL.nb IN.npz OUT.npz       # IN: b0_input_ids, b0_token_type_ids, ...

``run`` writes ``b<i>`` logits for each batch ``i`` of IN.npz; thread count comes from
OMP_NUM_THREADS (MobileConfig has no working set_threads on x86: converters README, Facts).
"""
from __future__ import annotations

import sys


def opt(model: str, params: str, out_base: str, target: str, quant: str = "") -> int:
    from paddlelite.lite import Opt

    o = Opt()
    o.set_model_file(model)
    o.set_param_file(params)
    o.set_valid_places(target)
    o.set_model_type("naive_buffer")
    o.set_optimize_out(out_base)
    if quant == "int8":
        o.set_quant_model(True)
        o.set_quant_type("QUANT_INT8")
    o.run()
    return 0


def run(nb: str, inp: str, out: str) -> int:
    import numpy as np
    from paddlelite.lite import MobileConfig, create_paddle_predictor

    cfg = MobileConfig()
    cfg.set_model_from_file(nb)
    pred = create_paddle_predictor(cfg)
    names = list(pred.get_input_names())
    data = np.load(inp)
    batches = sorted({k.split("_", 1)[0] for k in data.files}, key=lambda b: int(b[1:]))
    result = {}
    for b in batches:
        for name in names:
            key = f"{b}_{name}"
            if key not in data.files:
                print(f"lite_tool: the model wants input {name!r}, not given", file=sys.stderr)
                return 3
            pred.get_input_by_name(name).from_numpy(np.ascontiguousarray(data[key]))
        pred.run()
        result[b] = np.array(pred.get_output(0).numpy(), dtype=np.float32)
    np.savez(out, **result)
    return 0


def bench(nb: str, seq: str = "128", runs: str = "30") -> int:
    """Median latency (ms) of batch 1 x seq tokens; threads from OMP_NUM_THREADS."""
    import json
    import time

    import numpy as np
    from paddlelite.lite import MobileConfig, create_paddle_predictor

    cfg = MobileConfig()
    cfg.set_model_from_file(nb)
    pred = create_paddle_predictor(cfg)
    n = int(seq)
    ids = (np.arange(n, dtype=np.int64) % 500 + 1000).reshape(1, n)
    ids[0, 0], ids[0, -1] = 101, 102
    for name in pred.get_input_names():
        arr = ids if "input" in name else np.zeros_like(ids)
        pred.get_input_by_name(name).from_numpy(arr)
    times = []
    for i in range(int(runs) + 3):
        t = time.perf_counter()
        pred.run()
        if i >= 3:
            times.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"median_ms": float(np.median(times)), "runs": len(times)}))
    return 0


def info(nb: str) -> int:
    import json

    from paddlelite.lite import MobileConfig, create_paddle_predictor

    cfg = MobileConfig()
    cfg.set_model_from_file(nb)
    pred = create_paddle_predictor(cfg)
    print(json.dumps({"inputs": list(pred.get_input_names()), "outputs": list(pred.get_output_names())}))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "info":
        return info(argv[1])
    if len(argv) >= 2 and argv[0] == "bench":
        return bench(*argv[1:4])
    if len(argv) >= 5 and argv[0] == "opt":
        return opt(*argv[1:6])
    if len(argv) == 4 and argv[0] == "run":
        return run(*argv[1:4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
