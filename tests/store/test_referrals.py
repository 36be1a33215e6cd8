"""Referrals in the store, on SQLite and PostgreSQL: codes made once, every refusal with
its field and nothing written, the cap and the one-referrer rule under concurrency, and
the completion on the friend's first purchase once, with an event for each customer."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from journeys.store import Store
from journeys.store.loyalty_tables import Purchase
from journeys.store.referral_tables import COMPLETED, PENDING, Referral, ReferralCode
from journeys.store.referrals import (
    CODE_ALPHABET,
    CODE_LENGTH,
    ReferralRefused,
    Referrals,
    normalise_code,
)
from journeys.store.tracking_tables import EventRecord
from tests.races import concurrently


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


T0 = datetime(2027, 3, 4, 15, 30, tzinfo=UTC)
CAP = 10


def buy(store: Store, customer: str, ref: str, amount: float = 40.0) -> bool:
    _, new = store.loyalty.record_purchase(customer, amount, source_ref=ref, occurred_at=T0)
    return new


def refer(store: Store, code: str, friend: str, cap: int = CAP) -> tuple[Referral, bool]:
    return store.referrals.record(code, friend, max_per_referrer=cap, at=T0)


def everything(store: Store) -> tuple[list[Any], list[Any], list[Any]]:
    """Every referral row, code row and event, to show a refusal wrote nothing."""
    with store.database.session() as session:
        return (
            [r.model_dump() for r in session.exec(select(Referral)).all()],
            [c.model_dump() for c in session.exec(select(ReferralCode)).all()],
            [e.id for e in session.exec(select(EventRecord)).all()],
        )


def refused(store: Store, code: str, friend: str, cap: int = CAP) -> ReferralRefused:
    before = everything(store)
    with pytest.raises(ReferralRefused) as caught:
        refer(store, code, friend, cap)
    assert everything(store) == before
    return caught.value


# Codes ----------------------------------------------------------------------------------


def test_a_code_is_short_stable_unique_and_unambiguous(store: Store) -> None:
    codes = [store.referrals.code_for(f"c-{i}") for i in range(20)]
    assert len(set(codes)) == 20
    for code in codes:
        assert re.fullmatch(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}", code), code
        assert not set(code) & set("01OI")
    assert [store.referrals.code_for(f"c-{i}") for i in range(20)] == codes  # never changes
    assert store.referrals.owner_of(codes[3].lower()) == "c-3"
    assert store.customers.get("c-0") is not None  # made with a blank profile if need be


def test_two_first_asks_at_once_give_one_code(store: Store) -> None:
    codes = concurrently(6, lambda _: store.referrals.code_for("ana"))
    assert len(set(codes)) == 1
    with store.database.session() as session:
        assert len(session.exec(select(ReferralCode)).all()) == 1


def test_a_drawn_code_already_taken_is_drawn_again(store: Store) -> None:
    draws = itertools.chain(["AAAA2222", "AAAA2222", "BBBB3333"])
    referrals = Referrals(store.database, new_code=lambda: next(draws))
    assert referrals.code_for("first") == "AAAA2222"
    assert referrals.code_for("second") == "BBBB3333"


def test_codes_are_read_as_people_type_them() -> None:
    assert normalise_code(" k7q2-m9xp ") == "K7Q2M9XP"
    assert normalise_code("K7Q2 M9XP") == "K7Q2M9XP"


# Recording ------------------------------------------------------------------------------


def test_a_referral_is_recorded_once(store: Store) -> None:
    code = store.referrals.code_for("ana")
    row, new = refer(store, code, "bob")
    assert new and (row.referrer_id, row.friend_id, row.status) == ("ana", "bob", PENDING)
    again, new_again = refer(store, code.lower(), "bob")  # the app retried
    assert not new_again and again.id == row.id
    assert [r.friend_id for r in store.referrals.referred_by("ana")] == ["bob"]
    summary = store.referrals.summary("ana")
    assert (summary.code, summary.referred, summary.completed) == (code, 1, 0)
    assert store.referrals.summary("bob").referred_by == "ana"


def test_an_unknown_code_is_refused(store: Store) -> None:
    store.referrals.code_for("ana")
    error = refused(store, "ZZZZ9999", "bob")
    assert (error.reason, error.field) == ("unknown-code", "code")
    assert store.customers.get("bob") is None


def test_a_customer_cannot_use_their_own_code(store: Store) -> None:
    error = refused(store, store.referrals.code_for("ana"), "ana")
    assert (error.reason, error.field) == ("self-referral", "customer_id")


def test_a_friend_is_referred_by_one_referrer_only(store: Store) -> None:
    refer(store, store.referrals.code_for("ana"), "bob")
    error = refused(store, store.referrals.code_for("cleo"), "bob")
    assert (error.reason, error.field) == ("already-referred", "customer_id")


def test_a_customer_who_already_bought_is_not_new(store: Store) -> None:
    code = store.referrals.code_for("ana")
    buy(store, "bob", "order-1")
    error = refused(store, code, "bob")
    assert (error.reason, error.field) == ("not-new", "customer_id")


def test_a_referral_cannot_go_both_ways(store: Store) -> None:
    refer(store, store.referrals.code_for("ana"), "bob")
    error = refused(store, store.referrals.code_for("bob"), "ana")
    assert (error.reason, error.field) == ("mutual", "customer_id")


def test_the_cap_per_referrer(store: Store) -> None:
    code = store.referrals.code_for("ana")
    for i in range(3):
        refer(store, code, f"friend-{i}", cap=3)
    error = refused(store, code, "friend-3", cap=3)
    assert (error.reason, error.field) == ("cap-reached", "code")
    assert "3" in str(error)
    _, new = refer(store, code, "friend-1", cap=3)  # the repeat of a recorded one still answers
    assert not new


def _attempt(store: Store, code: str, friend: str, cap: int) -> str:
    try:
        _, new = refer(store, code, friend, cap)
    except ReferralRefused as error:
        return error.reason
    return "new" if new else "repeat"


def test_the_cap_holds_under_concurrent_sign_ups(store: Store) -> None:
    code = store.referrals.code_for("ana")
    outcomes = concurrently(8, lambda i: _attempt(store, code, f"friend-{i}", 3))
    assert sorted(outcomes) == ["cap-reached"] * 5 + ["new"] * 3
    assert len(store.referrals.referred_by("ana")) == 3


def test_a_friend_signing_up_twice_at_once_is_referred_once(store: Store) -> None:
    codes = [store.referrals.code_for(name) for name in ("ana", "cleo", "dan")]
    store.customers.upsert("bob")  # signed up first: only the unique friend_id stops a second
    outcomes = concurrently(6, lambda i: _attempt(store, codes[i % 3], "bob", CAP))
    assert outcomes.count("new") == 1
    assert set(outcomes) <= {"new", "repeat", "already-referred"}
    referral = store.referrals.referral_of("bob")
    assert referral is not None
    # The winner's repeats answer "repeat", the others "already-referred".
    winner = codes.index(referral.code)
    assert all(
        outcome in ("new", "repeat") if i % 3 == winner else outcome == "already-referred"
        for i, outcome in enumerate(outcomes)
    )


# Completion -----------------------------------------------------------------------------


def test_the_first_purchase_completes_the_referral_with_an_event_for_each(store: Store) -> None:
    store.customers.upsert("ana", attributes={"first_name": "Ana"})
    store.customers.upsert("bob", attributes={"first_name": "Bob"})
    refer(store, store.referrals.code_for("ana"), "bob")
    assert store.events.pending("ana") == store.events.pending("bob") == []

    assert buy(store, "bob", "order-1", 59.9)

    referral = store.referrals.referral_of("bob")
    assert referral is not None
    assert (referral.status, referral.purchase_ref, referral.completed_at) == (
        COMPLETED,
        "order-1",
        T0,
    )
    [for_ana] = store.events.pending("ana")
    [for_bob] = store.events.pending("bob")
    assert for_ana.name == for_bob.name == "referral.completed"
    assert for_ana.properties["role"] == "referrer" and for_bob.properties["role"] == "friend"
    for event in (for_ana, for_bob):
        assert event.properties["friend_id"] == "bob"
        assert event.properties["referrer_id"] == "ana"
        assert event.properties["friend_first_name"] == "Bob"
        assert event.properties["referrer_first_name"] == "Ana"
        assert event.properties["purchase_amount"] == 59.9
        assert event.occurred_at == T0
    assert store.referrals.summary("ana").completed == 1


def test_a_purchase_applied_twice_completes_once_and_a_second_purchase_nothing(
    store: Store,
) -> None:
    refer(store, store.referrals.code_for("ana"), "bob")
    results = concurrently(4, lambda _: buy(store, "bob", "order-1"))
    assert results.count(True) == 1
    assert not buy(store, "bob", "order-1")  # a retried activity
    assert buy(store, "bob", "order-2")
    assert len(store.events.pending("ana")) == 1 and len(store.events.pending("bob")) == 1
    referral = store.referrals.referral_of("bob")
    assert referral is not None and referral.purchase_ref == "order-1"


def test_a_purchase_stored_beside_the_referral_leaves_it_pending(store: Store) -> None:
    """The race ``record`` cannot see: a purchase committed while the referral was being
    recorded. The friend was not new, so the next purchase completes nothing."""
    refer(store, store.referrals.code_for("ana"), "bob")
    with store.database.session() as session:
        session.add(Purchase(customer_id="bob", amount=5, occurred_at=T0, source_ref="early"))
        session.commit()
    assert buy(store, "bob", "order-2")
    referral = store.referrals.referral_of("bob")
    assert referral is not None and referral.status == PENDING
    assert store.events.pending("ana") == []


def test_a_purchase_by_someone_not_referred_writes_no_referral_event(store: Store) -> None:
    store.referrals.code_for("ana")
    assert buy(store, "ana", "order-1")  # the referrer buying completes nothing
    assert store.events.pending("ana") == []
