"""The store on SQLite and on PostgreSQL: same code, same answers.

PostgreSQL tests use ``JOURNEYS_TEST_POSTGRES_URL`` (default: a local ``test`` database),
each in a schema of its own that is dropped afterwards; they are skipped, with the reason
shown, only when the server does not answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from journeys.model.profile import check_profile_value
from journeys.store import Store
from journeys.store.tables import Delivery, JourneyEntry, OutboxMessage
from tests.races import concurrently


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


def test_sqlite_engine_is_shared_and_uses_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'journeys.db'}"
    first, second = Store(url), Store(url)
    assert first.engine is second.engine
    assert (tmp_path / "a" / "b").is_dir()
    with first.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        # Below the local activities' 30 s timeout: a stuck write fails inside the attempt.
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10000


def test_create_schema_adds_columns_a_newer_version_declares(tmp_path: Path) -> None:
    """A database created before ``deliveries.recipient`` existed keeps working."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, delivery_key VARCHAR NOT NULL,"
                " channel VARCHAR NOT NULL, status VARCHAR NOT NULL, reason VARCHAR NOT NULL,"
                " workflow_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL,"
                " scenario_id VARCHAR NOT NULL, step_id VARCHAR NOT NULL,"
                " customer_id VARCHAR NOT NULL, template VARCHAR NOT NULL,"
                " provider_message_id VARCHAR, created_at DATETIME NOT NULL,"
                " updated_at DATETIME NOT NULL)"
            )
        )
    engine.dispose()
    store = Store(url)
    store.create_schema()
    store.ledger.record(_ledger("reserved", recipient="+33600000000"))
    [row] = store.ledger.for_key("k1")
    assert row.recipient == "+33600000000"
    assert (row.provider_status, row.provider_status_at) == (None, None)


def test_customer_has_the_context_shape(store: Store) -> None:
    store.customers.upsert(
        "c1",
        email="ana@example.com",
        locale="fr",
        time_zone="Europe/Paris",
        consent={"email": True},
        attributes={"first_name": "Ana", "email": "shadowed@example.com", "points": 120},
    )
    assert store.customers.get("c1") == {
        "first_name": "Ana",
        "points": 120,
        "id": "c1",
        "email": "ana@example.com",  # the profile field wins over an attribute of that name
        "phone": None,
        "push_token": None,
        "locale": "fr",
        "time_zone": "Europe/Paris",
        "birthday": None,
        "consent": {"email": True, "sms": False, "push": False},  # absent = no consent
    }
    assert store.customers.get("nobody") is None


def test_upsert_merges_consent_and_attributes_and_clears_on_none(store: Store) -> None:
    store.customers.upsert("c1", push_token="tok", consent={"email": True}, attributes={"a": 1})
    customer = store.customers.upsert(
        "c1", push_token=None, consent={"sms": True}, attributes={"b": 2}
    )
    assert customer["push_token"] is None
    assert customer["consent"] == {"email": True, "sms": True, "push": False}
    assert (customer["a"], customer["b"]) == (1, 2)
    with pytest.raises(ValueError, match="IANA"):
        store.customers.upsert("c1", time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="unknown customer field"):
        store.customers.upsert("c1", nickname="x")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("consent", {"sms": "yes"}, "consent.sms must be true or false"),
        ("consent", {"fax": True}, "consent channel 'fax' must be one of email, sms, push"),
        ("consent", ["sms"], "consent must map channels to true/false"),
        ("locale", "French", "'French' is not a locale"),
        ("email", "ana.example.com", "'ana.example.com' is not an email address"),
        ("phone", 33612345678, "phone must be text"),
        ("time_zone", "Europe/Pari", "'Europe/Pari' is not an IANA time zone"),
    ],
)
def test_profile_values_are_checked_and_a_bad_one_changes_nothing(
    store: Store, field: str, value: Any, message: str
) -> None:
    store.customers.upsert("c1", email="ana@example.com", consent={"email": True})
    with pytest.raises(ValueError, match=message):
        store.customers.upsert("c1", **{"push_token": "tok", field: value})
    with pytest.raises(ValueError, match=message):
        check_profile_value(field, value)  # the rule `journeys validate` applies
    customer = store.customers.get("c1")
    assert customer is not None and customer["push_token"] is None
    assert (customer["email"], customer["consent"]["email"]) == ("ana@example.com", True)


def test_empty_text_resets_a_profile_field(store: Store) -> None:
    store.customers.upsert("c1", locale="fr", time_zone="Asia/Tokyo")
    customer = store.customers.upsert("c1", locale="", time_zone="")
    assert (customer["locale"], customer["time_zone"]) == ("en", "UTC")


def test_set_attributes_creates_the_customer_and_routes_profile_fields(store: Store) -> None:
    customer = store.customers.set_attributes("new", {"tier": "gold", "locale": "ja", "points": 5})
    assert (customer["tier"], customer["points"], customer["locale"]) == ("gold", 5, "ja")
    assert store.customers.get("new") == customer
    with pytest.raises(ValueError, match="id cannot be changed"):
        store.customers.set_attributes("new", {"id": "other"})


def _ledger(status: str, channel: str = "email", **fields: Any) -> Delivery:
    return Delivery(delivery_key="k1", channel=channel, status=status, customer_id="c1", **fields)


def test_ledger_keeps_one_row_per_key_and_channel(store: Store) -> None:
    store.ledger.record(_ledger("suppressed:no-consent", channel="sms", reason="no sms consent"))
    store.ledger.record(_ledger("reserved", step_id="s1", template="promo/offer"))
    store.ledger.record(_ledger("sent", provider_message_id="m-1"))
    rows = store.ledger.for_key("k1")
    assert [(r.channel, r.status) for r in rows] == [
        ("sms", "suppressed:no-consent"),
        ("email", "sent"),
    ]
    email = rows[1]
    assert (email.step_id, email.template) == ("s1", "promo/offer")
    assert email.provider_message_id == "m-1"
    assert email.updated_at >= email.created_at
    assert email.created_at.tzinfo is not None
    assert store.ledger.for_customer("c1") == rows
    assert store.ledger.for_customer("c2") == []


def test_a_sent_row_never_moves_back(store: Store) -> None:
    """A late ``reserved`` write (an attempt that timed out while its thread still ran)
    must not undo a send: the row stays ``sent`` and the writer gets it back as stored."""
    store.ledger.record(_ledger("reserved", recipient="ana@example.com"))
    store.ledger.record(_ledger("sent", provider_message_id="m-1"))
    late = store.ledger.record(_ledger("reserved", recipient="ana@example.com"))
    assert (late.status, late.provider_message_id) == ("sent", "m-1")
    failed = store.ledger.record(_ledger("failed:adapter", reason="refused"))
    assert failed.status == "sent"
    [row] = store.ledger.for_key("k1")
    assert (row.status, row.reason, row.provider_message_id) == ("sent", "", "m-1")


def test_a_reserved_row_keeps_its_recipient(store: Store) -> None:
    store.ledger.record(_ledger("suppressed:no-consent", channel="sms", reason="no consent"))
    first = store.ledger.record(_ledger("reserved", channel="sms", recipient="+33600000001"))
    assert first.recipient == "+33600000001"  # a suppressed row takes the new recipient
    again = store.ledger.record(_ledger("reserved", channel="sms", recipient="+33600000002"))
    assert again.recipient == "+33600000001"  # the message may be out to the first one


def test_moving_a_row_on_keeps_what_the_write_does_not_give(store: Store) -> None:
    """Purpose, journey time (the frequency cap counts by them) and the provider's message
    id survive a later write that leaves them out."""
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    store.ledger.record(
        _ledger("reserved", purpose="marketing", journey_time=at, provider_message_id="m-0")
    )
    moved = store.ledger.record(_ledger("failed:adapter", reason="refused"))
    assert (moved.status, moved.reason) == ("failed:adapter", "refused")
    assert (moved.purpose, moved.journey_time, moved.provider_message_id) == (
        "marketing",
        at,
        "m-0",
    )
    later = at + timedelta(hours=1)
    again = store.ledger.record(
        _ledger("reserved", purpose="transactional", journey_time=later, provider_message_id="m-1")
    )
    assert (again.purpose, again.journey_time, again.provider_message_id) == (
        "transactional",
        later,
        "m-1",
    )
    assert store.ledger.for_key("k1") == [again]


def test_concurrent_late_writes_never_undo_a_send(store: Store) -> None:
    store.ledger.record(_ledger("reserved"))
    statuses = ["sent" if i == 0 else "reserved" for i in range(6)]
    concurrently(6, lambda i: store.ledger.record(_ledger(statuses[i], provider_message_id="m")))
    assert [r.status for r in store.ledger.for_key("k1")] == ["sent"]


def test_concurrent_ledger_writes_keep_one_row(store: Store) -> None:
    concurrently(6, lambda i: store.ledger.record(_ledger("reserved")))
    assert [r.status for r in store.ledger.for_key("k1")] == ["reserved"]


def test_provider_status_moves_forward_only_and_never_touches_status(store: Store) -> None:
    store.ledger.record(_ledger("sent", provider_message_id="m-1"))
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    row = store.ledger.record_provider_status("k1", "email", "delivered", at=at)
    assert row is not None and (row.status, row.provider_status) == ("sent", "delivered")
    assert row.provider_status_at == at
    store.ledger.record_provider_status("k1", "email", "processed")  # late: ignored
    assert store.ledger.for_key("k1")[0].provider_status == "delivered"
    store.ledger.record_provider_status("k1", "email", "bounce", reason="550 5.1.1 no such user")
    store.ledger.record_provider_status("k1", "email", "delivered")  # after a bounce: ignored
    [row] = store.ledger.for_key("k1")
    assert (row.status, row.provider_status, row.provider_status_reason) == (
        "sent",
        "bounce",
        "550 5.1.1 no such user",
    )
    assert store.ledger.record_provider_status("k1", "sms", "delivered") is None  # no such row
    assert store.ledger.record_provider_status("nope", "email", "delivered") is None


def test_suppression_list_is_per_normalized_address(store: Store) -> None:
    assert store.consent.suppress("email", " Ana@Example.COM ", "hard bounce") is True
    assert (
        store.consent.suppress("email", "ana@example.com", "spam complaint") is False
    )  # first wins
    assert store.consent.suppress("sms", "+33 6 12-34-56-78", "twilio 30005") is True
    [email, sms] = store.consent.suppressions()
    assert (email.channel, email.address, email.reason) == (
        "email",
        "ana@example.com",
        "hard bounce",
    )
    assert (sms.channel, sms.address) == ("sms", "+33612345678")
    assert store.consent.suppressed_channels(
        {"email": "ANA@example.com", "sms": "+33612345678", "push": "device-1"}
    ) == {"email", "sms"}
    # Same address under another channel, or no address: not suppressed.
    assert store.consent.suppressed_channels({"sms": "ana@example.com", "email": None}) == set()
    assert store.consent.suppressed_channels({}) == set()


def test_concurrent_suppressions_keep_one_row(store: Store) -> None:
    added = concurrently(
        6, lambda i: store.consent.suppress("email", "ana@example.com", f"bounce {i}")
    )
    assert sorted(added) == [False] * 5 + [True]
    assert len(store.consent.suppressions("email")) == 1


def test_set_consent_logs_each_change_once(store: Store) -> None:
    store.customers.upsert("c1", consent={"email": True, "sms": True})
    assert store.consent.set("c1", "email", False, source="unsubscribe-link", detail="one-click")
    assert not store.consent.set("c1", "email", False, source="unsubscribe-link")
    assert store.customers.get("c1")["consent"] == {"email": False, "sms": True, "push": False}
    assert store.consent.set("c1", "email", True, source="profile-update")
    changes = store.consent.changes("c1")
    assert [(c.channel, c.granted, c.source, c.purpose) for c in changes] == [
        ("email", False, "unsubscribe-link", "marketing"),
        ("email", True, "profile-update", "marketing"),
    ]
    assert changes[0].detail == "one-click" and changes[0].created_at.tzinfo is not None
    # Nobody to unsubscribe: nothing is created or logged.
    assert not store.consent.set("ghost", "email", False, source="unsubscribe-link")
    assert store.customers.get("ghost") is None and store.consent.changes("ghost") == []
    with pytest.raises(ValueError, match="consent channel 'fax'"):
        store.consent.set("c1", "fax", False, source="unsubscribe-link")


def test_apply_update_happens_once_per_key(store: Store) -> None:
    store.customers.upsert("c1", attributes={"points": 100})
    assert store.customers.applied_update("wf/e1/award") is None
    assert store.customers.apply_update("c1", {"points": 200, "locale": "fr"}, "wf/e1/award") == {
        "points": 200,
        "locale": "fr",
    }
    # A retry computed its values from the customer as it is now (points 200 → 300).
    assert store.customers.apply_update("c1", {"points": 300}, "wf/e1/award") == {
        "points": 200,
        "locale": "fr",
    }
    assert store.customers.applied_update("wf/e1/award") == {"points": 200, "locale": "fr"}
    customer = store.customers.get("c1")
    assert customer is not None and (customer["points"], customer["locale"]) == (200, "fr")
    with pytest.raises(ValueError, match="id cannot be changed"):
        store.customers.apply_update("c1", {"id": "c2"}, "wf/e1/other")
    with pytest.raises(ValueError, match="IANA"):
        store.customers.apply_update("c1", {"time_zone": "Nowhere"}, "wf/e1/bad")
    assert store.customers.applied_update("wf/e1/bad") is None  # nothing was recorded either


def test_racing_attempts_of_one_update_apply_it_once(store: Store) -> None:
    results = concurrently(
        6, lambda i: store.customers.apply_update("new", {"points": i}, "wf/e1/award")
    )
    assert len({tuple(r.items()) for r in results}) == 1
    customer = store.customers.get("new")
    assert customer is not None and {"points": customer["points"]} == results[0]


def _outbox(key: str, customer_id: str = "c1", **fields: Any) -> OutboxMessage:
    return OutboxMessage(
        delivery_key=key, customer_id=customer_id, channel="email", recipient="a@b", **fields
    )


def test_outbox_insert_is_idempotent_on_the_delivery_key(store: Store) -> None:
    paris = datetime(2026, 3, 29, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    first = store.outbox.insert(_outbox("k1", subject="first", journey_time=paris))
    again = store.outbox.insert(_outbox("k1", subject="second"))
    assert again.id == first.id and again.subject == "first"
    [row] = store.outbox.for_customer("c1")
    assert row.journey_time == paris and row.journey_time.tzinfo == UTC


def test_concurrent_outbox_inserts_store_one_message(store: Store) -> None:
    rows = concurrently(6, lambda i: store.outbox.insert(_outbox("race", subject=str(i))))
    assert len({row.id for row in rows}) == 1
    assert len(store.outbox.for_customer("c1")) == 1


def test_outbox_listings(store: Store) -> None:
    for index in range(5):
        store.outbox.insert(_outbox(f"k{index}", customer_id="c1" if index % 2 else "c2"))
    assert [m.delivery_key for m in store.outbox.latest(3)] == ["k4", "k3", "k2"]
    assert [m.delivery_key for m in store.outbox.latest(10, customer_id="c1")] == ["k3", "k1"]
    assert [m.delivery_key for m in store.outbox.for_customer("c2")] == ["k0", "k2", "k4"]


def _entry(entry_id: str, scenario_id: str = "vip") -> JourneyEntry:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return JourneyEntry(
        entry_id=entry_id,
        scenario_id=scenario_id,
        customer_id="c1",
        workflow_id=f"journey/{scenario_id}/c1",
        entered_at=start + timedelta(days=len(entry_id)),
    )


def test_record_entry_once_and_idempotent(store: Store) -> None:
    assert store.journeys.record_entry(_entry("e1"), once=True)
    assert store.journeys.record_entry(_entry("e1"), once=True)  # a retry of the same entry
    assert not store.journeys.record_entry(_entry("e2"), once=True)
    assert store.journeys.record_entry(_entry("e3", scenario_id="other"), once=True)
    assert [e.entry_id for e in store.journeys.entries_for("vip", "c1")] == ["e1"]
    assert store.journeys.record_entry(_entry("r1", scenario_id="loop"), once=False)
    assert store.journeys.record_entry(_entry("r2", scenario_id="loop"), once=False)
    assert len(store.journeys.entries_for("loop", "c1")) == 2


def test_racing_first_entries_admit_exactly_one(store: Store) -> None:
    results = concurrently(6, lambda i: store.journeys.record_entry(_entry(f"e{i}"), once=True))
    assert results.count(True) == 1
    [winner] = store.journeys.entries_for("vip", "c1")
    assert winner.entry_id == f"e{results.index(True)}"
