"""Late-bound services a lower layer calls but must not import.

One today: the golden-prediction check that ``Bundle.verify(predictions=True)`` runs.
Running models needs the predictor, and the predictor imports edgetext.bundle, so
bundle.py calls whatever :data:`prediction_check` holds instead of importing upwards.
edgetext/__init__ (always executed before any submodule) installs the default,
:func:`edgetext.verify.check_predictions`, imported on first use.

May import: the standard library only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple

if TYPE_CHECKING:  # pragma: no cover
    from .bundle import Bundle


class PredictionChecks(NamedTuple):
    """What a prediction check found: checks done, problems, models skipped (each "file: why")."""

    checks: list[str]
    problems: list[str]
    skipped: list[str]


PredictionCheck = Callable[["Bundle", "int | None"], PredictionChecks]

prediction_check: PredictionCheck | None = None
