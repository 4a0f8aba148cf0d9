"""A one-line progress bar over the conversion's stages (tqdm on stderr, when asked and installed),
and the time each stage took (report["timings_s"]).

May import: the standard library, tqdm (optional).
"""
from __future__ import annotations

import time
from typing import Any


class Progress:
    def __init__(self, total: int, enabled: bool):
        self.bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # optional: no bar, same conversion
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc="convert", unit="stage", leave=False, dynamic_ncols=True)
        self.times: dict[str, float] = {}
        self._t = time.perf_counter()
        self._stage = ""

    def stage(self, name: str) -> None:
        """End the current stage (its time recorded) and start ``name`` ("" ends without a new one)."""
        now = time.perf_counter()
        if self._stage:
            self.times[self._stage] = round(now - self._t, 3)
            if self.bar is not None:
                self.bar.update(1)
        self._stage, self._t = name, now
        if self.bar is not None and name:
            self.bar.set_description(name)

    def close(self) -> None:
        self.stage("")
        if self.bar is not None:
            self.bar.close()
            self.bar = None
