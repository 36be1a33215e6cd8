"""The NPS of a set of answers, and the id that makes one answer count per invitation."""

from __future__ import annotations

import pytest

from journeys.loyalty.nps import nps
from journeys.model.surveys import answer_event_id, comment_problem


def test_promoters_minus_detractors_in_percent_of_all_answers() -> None:
    # 3 promoters (9, 10, 10), 2 passives (7, 8), 3 detractors (0, 5, 6): (3 - 3) / 8
    assert nps([9, 10, 10, 7, 8, 0, 5, 6]) == 0.0
    assert nps([10, 9, 8, 2]) == 25.0  # (2 - 1) / 4
    assert nps([10] * 3) == 100.0
    assert nps([6, 0]) == -100.0
    assert nps([7, 8]) == 0.0  # passives count in the answers, on neither side
    assert nps(iter([9, 6, 6])) == pytest.approx(-100 / 3)


def test_no_answer_is_no_score() -> None:
    assert nps([]) is None


@pytest.mark.parametrize("bad", [11, -1, 9.5, True])
def test_a_score_off_the_scale_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="from 0 to 10"):
        nps([9, bad])  # type: ignore[list-item]


def test_the_answer_id_is_one_per_survey_entry_and_customer() -> None:
    one = answer_event_id("nps-survey", "entry-1", "ana")
    assert one == answer_event_id("nps-survey", "entry-1", "ana")
    assert len(one) <= 200 and one.startswith("nps:")
    others = {
        answer_event_id("nps-survey", "entry-2", "ana"),
        answer_event_id("q1", "entry-1", "ana"),
        answer_event_id("nps-survey", "entry-1", "bob"),
        # parts that would run together if simply joined
        answer_event_id("nps-survey", "entry-1a", "na"),
        answer_event_id("nps-survey/entry-1", "", "ana"),
    }
    assert one not in others and len(others) == 5
    assert len(answer_event_id("s" * 200, "e" * 200, "c" * 200)) == len(one)


def test_a_comment_is_bounded_and_has_no_control_characters() -> None:
    assert comment_problem("Quick delivery,\nlovely tea\t!") is None
    assert comment_problem("x" * 2000) is None
    assert "at most 2000 characters" in str(comment_problem("x" * 2001))
    assert "control characters" in str(comment_problem("a\x00b"))
    assert "control characters" in str(comment_problem("a\x1bb"))
