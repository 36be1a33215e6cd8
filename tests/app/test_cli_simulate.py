"""`journeys simulate` as a user runs it: a timeline in virtual time, nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_process import CART, FIXTURES, environment, rows, run, sent


async def test_simulate_a_cart_left_alone(tmp_path: Path) -> None:
    code, out = await run(
        "simulate",
        CART,
        "--customer",
        str(FIXTURES / "ana.yaml"),
        "--events",
        str(FIXTURES / "cart_then_nothing.yaml"),
        env=environment(tmp_path),
        timeout=60,
    )

    assert code == 0, out
    assert "abandoned-cart for ana: completed" in out
    timeline = [(at, step) for at, step, _ in rows(out, 3)]
    assert timeline[0] == ("+0d 00h00", "event")
    for moment in (
        ("+0d 01h00", "reminder"),
        ("+1d 00h00", "wait-for-order"),  # no order within 23h
        ("+1d 00h00", "sms-nudge"),
        ("+3d 00h00", "last-chance"),
    ):
        assert moment in timeline, out
    assert timeline[-1] == ("+3d 00h00", "end")
    assert ["+1d 00h00", "wait-for-order", "no order.completed within 23h"] in rows(out, 3)
    assert sent(out) == [
        ("+0d 01h00", "ana", "reminder"),
        ("+1d 00h00", "ana", "sms-nudge"),
        ("+3d 00h00", "ana", "last-chance"),
    ]
    assert "Votre panier vous attend" in out  # the profile's locale: fr
    assert "129,90 €" in out


async def test_simulate_an_order_before_the_first_reminder(tmp_path: Path) -> None:
    code, out = await run(
        "simulate",
        CART,
        "--customer",
        str(FIXTURES / "ana.yaml"),
        "--events",
        str(FIXTURES / "cart_then_order.yaml"),
        env=environment(tmp_path),
        timeout=60,
    )

    assert code == 0, out
    assert "abandoned-cart for ana: exited" in out
    assert ["+0d 00h30", "end", "exit on order.completed"] in rows(out, 3)
    assert "no message would be sent" in out
    assert sent(out) == []


@pytest.mark.parametrize(
    ("customer_text", "events_text", "message"),
    [
        pytest.param(
            None,
            None,
            "error: tests/fixtures/bad_events.yaml: event 1 has unknown keys ['when']",
            id="unknown-event-key",
        ),
        pytest.param(
            "id: x\nemial: x@example.com\n",
            None,
            "error: {customer}: unknown customer field(s) ['emial']; known: id, attributes,",
            id="unknown-customer-field",
        ),
        pytest.param(
            None,
            "- at: 0m\n  name: [cart.updated\n",
            "error: {events}:3: YAML syntax error: expected ',' or ']', but got '<stream end>'",
            id="broken-yaml",
        ),
        pytest.param(
            None,
            "- &a {at: 0m, name: cart.updated}\n- *a\n",
            "error: {events}:2: YAML aliases (*name) are not allowed",
            id="alias",
        ),
        pytest.param(
            None,
            "- at: 1 hour\n  name: cart.updated\n",
            "error: {events}: event 1: '1 hour' is not a duration",
            id="bad-duration",
        ),
    ],
)
async def test_simulate_rejects_a_bad_input_file_by_name(
    tmp_path: Path, customer_text: str | None, events_text: str | None, message: str
) -> None:
    customer, events = FIXTURES / "ana.yaml", FIXTURES / "bad_events.yaml"
    if customer_text is not None:
        customer = tmp_path / "customer.yaml"
        customer.write_text(customer_text, encoding="utf-8")
    if events_text is not None:
        events = tmp_path / "events.yaml"
        events.write_text(events_text, encoding="utf-8")

    code, out = await run(
        "simulate",
        CART,
        "--customer",
        str(customer),
        "--events",
        str(events),
        env=environment(tmp_path / "data"),
    )

    assert code == 1, out
    assert out.startswith(message.format(customer=customer, events=events)), out
    assert "Traceback" not in out


async def test_simulate_names_an_input_file_it_cannot_read(tmp_path: Path) -> None:
    """A missing file reads as every other unreadable file does (``validate`` included)."""
    missing = tmp_path / "nobody.yaml"

    code, out = await run(
        "simulate",
        CART,
        "--customer",
        str(missing),
        "--events",
        str(FIXTURES / "cart_then_nothing.yaml"),
        env=environment(tmp_path / "data"),
    )

    assert code == 1, out
    assert out.startswith(f"error: {missing}:1: cannot read this file: No such file"), out
    assert "Traceback" not in out


async def test_simulate_prints_the_timeline_and_the_error_of_a_failing_step(
    tmp_path: Path,
) -> None:
    """The expression parses, but this customer has no ``vip_level``: the timeline shows the
    step's error, the error is printed last, nothing is sent, and there is no traceback."""
    scenario = tmp_path / "vip_check.yaml"
    scenario.write_text(
        "id: vip-check\nname: VIP check\ntrigger: {event: cart.updated}\nsteps:\n"
        "  - wait: 1h\n"
        '  - if: "customer.vip_level > 2"\n    id: check\n    then:\n'
        "      - send: {id: vip, channel: email, template: abandoned_cart/reminder}\n"
        "  - send: {id: after, channel: email, template: abandoned_cart/reminder}\n",
        encoding="utf-8",
    )
    code, out = await run(
        "simulate",
        str(scenario),
        "--customer",
        str(FIXTURES / "ana.yaml"),
        "--events",
        str(FIXTURES / "cart_then_nothing.yaml"),
        env=environment(tmp_path / "data"),
        timeout=60,
    )

    assert code == 1, out
    assert "Traceback" not in out
    assert "vip-check for ana: exited" in out
    timeline = rows(out, 3)
    errors = [row for row in timeline if row[1] == "check"]
    assert [row[0] for row in errors] == ["+0d 01h00"], out
    assert errors[0][2].startswith("error: expression 'customer.vip_level > 2' fails:"), out
    assert timeline[-1][:2] == ["+0d 01h00", "end"]
    assert "no message would be sent" in out
    assert out.strip().splitlines()[-1].startswith(
        "error: at step 'check': expression 'customer.vip_level > 2' fails:"
    ), out


async def test_simulate_counts_events_for_a_challenge(tmp_path: Path) -> None:
    """Counters are counted in a simulation as they are for real: the third purchase enters
    the purchase challenge (``counters.purchases_30d >= 3``)."""
    code, out = await run(
        "simulate",
        "purchase-challenge",
        "--customer",
        str(FIXTURES / "ana.yaml"),
        "--events",
        str(FIXTURES / "three_purchases.yaml"),
        env=environment(tmp_path),
        timeout=60,
    )

    assert code == 0, out
    assert "purchase-challenge for ana: completed" in out
    # The first two purchases do not enter (that journey ends), the third's does: its
    # timeline is the one shown, so its message is at its own start.
    assert [(customer, step) for _, customer, step in sent(out)] == [("ana", "congratulations")]
