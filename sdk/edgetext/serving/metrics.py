"""Prometheus text exposition (format 0.0.4) of the server's counters, gauges and histograms.

    reg = Registry()
    requests = reg.counter("edgetext_requests_total", "HTTP requests by endpoint and status", ("endpoint", "status"))
    requests.inc(endpoint="/v1/classify", status="200")
    reg.render()   # the text GET /metrics returns

Small on purpose (no client library): every metric is updated under one lock, from the event loop
and from the batcher's worker threads alike. Gauges may be read at scrape time from a callback.

May import: the standard library only.
"""
from __future__ import annotations

import math
import threading
from typing import Callable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LabelKey = tuple[str, ...]


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: tuple[str, str] | None = None) -> str:
    pairs = [f'{n}="{_escape_label(v)}"' for n, v in zip(names, values)]
    if extra is not None:
        pairs.append(f'{extra[0]}="{extra[1]}"')
    return "{" + ",".join(pairs) + "}" if pairs else ""


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, label_names: Sequence[str], lock: threading.Lock):
        self.name, self.help, self.label_names, self._lock = name, help_text, tuple(label_names), lock

    def _key(self, labels: dict[str, str]) -> LabelKey:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.label_names)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str], lock: threading.Lock):
        super().__init__(name, help_text, label_names, lock)
        self._values: dict[LabelKey, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        return [f"{self.name}{_labels(self.label_names, k)} {_number(v)}" for k, v in sorted(self._values.items())]


class Gauge(_Metric):
    """A value that goes up and down; `read` (when given) supplies it at scrape time."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, lock: threading.Lock, read: Callable[[], float] | None = None):
        super().__init__(name, help_text, (), lock)
        self._value = 0.0
        self._read = read

    def set(self, value: float) -> None:
        with self._lock:
            self._value = float(value)

    def add(self, amount: float) -> None:
        with self._lock:
            self._value += amount

    def samples(self) -> list[str]:
        value = float(self._read()) if self._read is not None else self._value
        return [f"{self.name} {_number(value)}"]


class Histogram(_Metric):
    """Cumulative buckets (`le`), `_sum` and `_count` per label set."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, label_names: Sequence[str], lock: threading.Lock,
                 buckets: Sequence[float]):
        super().__init__(name, help_text, label_names, lock)
        self.buckets = tuple(sorted(float(b) for b in buckets)) + (math.inf,)
        self._series: dict[LabelKey, tuple[list[int], list[float]]] = {}  # counts per bucket, [sum]

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            counts, total = self._series.setdefault(key, ([0] * len(self.buckets), [0.0]))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[i] += 1
                    break
            total[0] += value

    def samples(self) -> list[str]:
        out = []
        for key, (counts, total) in sorted(self._series.items()):
            running = 0
            for bound, n in zip(self.buckets, counts):
                running += n
                out.append(f"{self.name}_bucket{_labels(self.label_names, key, ('le', _number(bound)))} {running}")
            out.append(f"{self.name}_sum{_labels(self.label_names, key)} {_number(total[0])}")
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {running}")
        return out


class Registry:
    """The metrics of one server, rendered in registration order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: list[_Metric] = []

    def _add(self, metric):
        self._metrics.append(metric)
        return metric

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help_text, labels, self._lock))

    def gauge(self, name: str, help_text: str, read: Callable[[], float] | None = None) -> Gauge:
        return self._add(Gauge(name, help_text, self._lock, read))

    def histogram(self, name: str, help_text: str, buckets: Sequence[float], labels: Sequence[str] = ()) -> Histogram:
        return self._add(Histogram(name, help_text, labels, self._lock, buckets))

    def render(self) -> str:
        lines: list[str] = []
        for m in self._metrics:
            lines.extend(m.header())
            if isinstance(m, Gauge) and m._read is not None:
                lines.extend(m.samples())  # the callback may take other locks: not under ours
                continue
            with self._lock:
                lines.extend(m.samples())
        return "\n".join(lines) + "\n"
