"""Which context names a template or an expression uses: the deliver and context
activities read the loyalty snapshot (three queries) only for those that need it."""

from __future__ import annotations

from pathlib import Path

from journeys.rendering.templating import LOYALTY_NAMES, Expressions, Templates

REPO = Path(__file__).resolve().parents[2]


def test_template_variables_include_every_locale_and_the_layout() -> None:
    templates = Templates(REPO / "templates")
    birthday = templates.variables("birthday/greeting", ["email", "push"])
    assert {"points", "vars", "customer"} <= birthday and birthday & LOYALTY_NAMES
    cart = templates.variables("abandoned_cart/reminder", ["email"])
    assert "unsubscribe_url" in cart  # from the layout it extends
    assert not cart & LOYALTY_NAMES


def test_expression_variables() -> None:
    expressions = Expressions()
    assert expressions.variables("points.next_expiring_on == event.expires_on") == {
        "points",
        "event",
    }
    assert expressions.variables("tier in ['gold']") == {"tier"}
    assert not expressions.variables("customer.consent.sms") & LOYALTY_NAMES
