"""The geometry of the dashboard's column charts, drawn as SVG by the templates (no script, no chart library).

A chart is WIDTH × HEIGHT in its own units and stretches to the width of the page; its labels and numbers are
HTML around it, so they keep their size on a phone and screen readers read them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 520, 160
GAP = 0.2  # of each column's slot


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Columns:
    """Bars rising from the baseline for `up`, hanging from it for `down`, on one scale."""

    up: list[Bar]
    down: list[Bar]
    baseline: float
    width: int = WIDTH
    height: int = HEIGHT


def columns(up: Sequence[float], down: Sequence[float] = (), *, scale: float | None = None) -> Columns:
    """One column per value across the width; `scale` is the value that fills the height above the baseline
    (the largest value when not given)."""
    highest = scale or max(up, default=0)
    lowest = max(down, default=0)
    span = highest + lowest
    baseline = HEIGHT * highest / span if span else HEIGHT
    slot = WIDTH / max(len(up), len(down), 1)

    def bar(index: int, value: float, *, rising: bool) -> Bar:
        height = HEIGHT * value / span if span else 0
        return Bar(slot * (index + GAP / 2), baseline - height if rising else baseline, slot * (1 - GAP), height)

    return Columns(
        up=[bar(index, value, rising=True) for index, value in enumerate(up)],
        down=[bar(index, value, rising=False) for index, value in enumerate(down)],
        baseline=baseline,
    )


def interval_scale(*values: float | None, least: float = 0.05) -> float:
    """The half-width of an axis centred on 0 that shows every value: lifts and their intervals, in proportion
    points, rounded up to a multiple of 5 points."""
    widest = max([abs(value) for value in values if value is not None] + [least])
    return -(-widest // 0.05) * 0.05


def position(value: float, half_width: float) -> float:
    """Where `value` sits on an axis from −half_width to +half_width, in percent of its length."""
    return 50 + 50 * value / half_width
