"""Small statistics for repeated measurements: median and spread, paired ratios, a least-squares line."""

from __future__ import annotations

import statistics


def summary(values: list[float], digits: int = 3) -> dict:
    """median, min, max and the spread as (max - min) / median of repeated measurements."""
    vals = [float(v) for v in values]
    med = statistics.median(vals)
    return {
        "median": round(med, digits),
        "min": round(min(vals), digits),
        "max": round(max(vals), digits),
        "spread": round((max(vals) - min(vals)) / med, 3) if med else None,
        "n": len(vals),
        "values": [round(v, digits) for v in vals],
    }


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def paired_ratios(a: list[float], b: list[float]) -> dict:
    """Ratios a[i] / b[i] of measurements taken side by side (same repetition)."""
    return summary([x / y for x, y in zip(a, b, strict=False) if y], digits=3)


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares y = slope * x + intercept; returns (slope, intercept, r^2)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False))
    slope = sxy / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=False))
    r2 = 1 - ss_res / ss_tot if ss_tot else 1.0
    return slope, intercept, r2
