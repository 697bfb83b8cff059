"""Compare view rows as the spec says (section 4): JSON values, floats within 1e-9, lists as multisets
unless their order is determined."""

from __future__ import annotations

import math
from collections import Counter

REL_TOL = 1e-9


def same(a: object, b: object) -> bool:
    """Deep equality of JSON values, floats within the spec's relative tolerance, ordered lists."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=False))
    return a == b


def same_multiset(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    remaining = list(b)
    for x in a:
        for i, y in enumerate(remaining):
            if same(x, y):
                del remaining[i]
                break
        else:
            return False
    return True


def field_matches(got: object, forward: object, backward: object) -> bool:
    """`got` equals the oracle under some order of the `many` collections.

    `forward` and `backward` are the oracle's values with collections iterated
    in two opposite orders. Where they agree the value does not depend on the
    order and must match exactly; where they differ, lists compare as
    multisets and scalars may match either.
    """
    if same(forward, backward):
        return same(got, forward)
    if isinstance(got, list) and isinstance(forward, list):
        return same_multiset(got, forward)
    return same(got, forward) or same(got, backward)


def sorted_by(values: list, keys: list[str], reverse: bool) -> bool:
    """Whether a list is ordered by the given dict fields ("" = the values themselves)."""

    def key(v):
        return tuple(v if k == "" else v[k] for k in keys)

    pairs = list(zip(values, values[1:], strict=False))
    try:
        return all((key(b) <= key(a)) if reverse else (key(a) <= key(b)) for a, b in pairs)
    except TypeError:
        return False


def diff_views(
    got: dict[str, dict],
    forward: dict[str, dict],
    backward: dict[str, dict],
    sort_info: dict[str, tuple[list[str], bool]] | None = None,
) -> list[str]:
    """Human-readable differences between one view's rows and the oracle's."""
    problems = []
    for key in sorted(set(got) | set(forward)):
        if key not in got:
            problems.append(f"{key}: missing, oracle has {forward[key]}")
            continue
        if key not in forward:
            problems.append(f"{key}: unexpected row {got[key]}")
            continue
        for name in forward[key]:
            g, f, b = got[key].get(name, "<absent>"), forward[key][name], backward[key][name]
            if not field_matches(g, f, b):
                problems.append(f"{key}.{name}: got {g!r}, oracle {f!r}" + ("" if same(f, b) else f" / {b!r}"))
            elif sort_info and name in sort_info and isinstance(g, list):
                keys, reverse = sort_info[name]
                if not sorted_by(g, keys, reverse):
                    problems.append(f"{key}.{name}: not sorted by {keys}: {g!r}")
        extra = set(got[key]) - set(forward[key])
        if extra:
            problems.append(f"{key}: unexpected fields {sorted(extra)}")
    return problems


def counter(values: list) -> Counter:
    return Counter(repr(v) for v in values)
