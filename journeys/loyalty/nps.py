"""Net Promoter Score: promoters (9-10) minus detractors (0-6), in percent of the answers.

Pure, for whoever reads ``nps.answered`` events (``journeys.model.surveys``) back into a
KPI: passives (7-8) count in the answers but on neither side, so the score runs from -100
(every answer a detractor) to +100 (every one a promoter).
"""

from __future__ import annotations

from collections.abc import Iterable

from journeys.model.surveys import score_problem

PROMOTER_MIN = 9
DETRACTOR_MAX = 6


def nps(scores: Iterable[int]) -> float | None:
    """The NPS of these answers, or None when there is none (no answer is not a score of 0).

    A score off the 0-10 scale is a ``ValueError``: an answer stored by anything but the
    answer links would otherwise skew the KPI silently.
    """
    answers = promoters = detractors = 0
    for score in scores:
        if problem := score_problem(score):
            raise ValueError(f"nps: {problem}")
        answers += 1
        promoters += score >= PROMOTER_MIN
        detractors += score <= DETRACTOR_MAX
    if not answers:
        return None
    return 100.0 * (promoters - detractors) / answers
