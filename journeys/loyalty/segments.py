"""The RFM segments a customer falls in, by recency and frequency score (pure).

Named here, below the store and the authoring checks, because both read them: the store's
SQL scores customers into them, and ``validate`` checks that a scenario names a real one.
"""

from __future__ import annotations

# The standard RFM segments by (R, F) score: (name, R scores, F scores). Each of the 25
# (R, F) pairs is in exactly one; ``segment_for`` and the SQL of ``score_rfm`` both read it.
SEGMENTS: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("Hibernating", (1, 2), (1, 2)),
    ("At Risk", (1, 2), (3, 4)),
    ("Cannot Lose Them", (1, 2), (5,)),
    ("About To Sleep", (3,), (1, 2)),
    ("Need Attention", (3,), (3,)),
    ("Loyal", (3, 4), (4, 5)),
    ("Promising", (4,), (1,)),
    ("New Customers", (5,), (1,)),
    ("Potential Loyalists", (4, 5), (2, 3)),
    ("Champions", (5,), (4, 5)),
)


def segment_for(r: int, f: int) -> str:
    """The segment of an (R, F) score pair, each 1..5."""
    for name, rs, fs in SEGMENTS:
        if r in rs and f in fs:
            return name
    raise ValueError(f"no RFM segment for R={r}, F={f} (scores are 1..5)")
