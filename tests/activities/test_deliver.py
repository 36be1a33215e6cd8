"""The deliver activity in a real activity context, over a real SQLite store.

No Temporal server: ``ActivityEnvironment`` runs the activity as a worker would, and a
"retry" is simply a second run with the same request (same delivery_key).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import build_activities
from activities.channels import (
    ChannelAdapter,
    OutboxAdapter,
    OutgoingMessage,
    PermanentChannelError,
    default_adapters,
)
from activities.deliver import DeliveryActivities, blocked
from journeys.rendering.templating import Expressions, Templates
from journeys.store import Store
from journeys.store.ledger import Ledger
from journeys.store.tables import Delivery
from tests.deliveries import NOW, customer, deliver, request


class Recording(ChannelAdapter):
    """Wraps an adapter; counts calls and can fail after (or instead of) the real call."""

    def __init__(self, inner: ChannelAdapter, fail_after_first: bool = False) -> None:
        self.inner = inner
        self.fail_after_first = fail_after_first
        self.calls: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> str:
        self.calls.append(message)
        message_id = await self.inner.send(message)
        if self.fail_after_first and len(self.calls) == 1:
            raise ConnectionResetError("simulated crash after the provider accepted the message")
        return message_id


class Refusing(ChannelAdapter):
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0

    async def send(self, message: OutgoingMessage) -> str:
        self.calls += 1
        raise self.error or PermanentChannelError(
            f"{message.recipient} bounced: mailbox does not exist"
        )


class Flaky(ChannelAdapter):
    """Fails transiently before reaching the provider the first ``failures`` times."""

    def __init__(self, inner: ChannelAdapter, failures: int = 1) -> None:
        self.inner = inner
        self.failures = failures

    async def send(self, message: OutgoingMessage) -> str:
        if self.failures:
            self.failures -= 1
            raise TimeoutError("provider did not answer")
        return await self.inner.send(message)


class StaleLedger(Store):
    """A store whose first ledger read misses rows: an attempt overlapping another one."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.stale_reads = 1
        self.ledger = StaleReads(self)


class StaleReads(Ledger):
    """The ledger of a ``StaleLedger``: reads by key miss rows while it has stale reads."""

    def __init__(self, store: StaleLedger) -> None:
        super().__init__(store.database)
        self.store = store

    def for_key(self, delivery_key: str) -> list[Delivery]:
        if self.store.stale_reads:
            self.store.stale_reads -= 1
            return []
        return super().for_key(delivery_key)


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    """A SQLite file of the test's own, not the session's store the worker writes to."""
    return sqlite_store


@pytest.fixture
def adapter(store: Store) -> Recording:
    return Recording(OutboxAdapter(store))


@pytest.fixture
def delivery(store: Store, templates: Templates, adapter: Recording) -> DeliveryActivities:
    return DeliveryActivities(store, templates, {"email": adapter, "sms": adapter, "push": adapter})


def ledger(store: Store, customer_id: str = "c1") -> list[tuple[str, str]]:
    return [(row.channel, row.status) for row in store.ledger.for_customer(customer_id)]


async def test_sends_on_email_and_stores_the_rendered_message(
    store: Store, delivery: DeliveryActivities
) -> None:
    result = await deliver(delivery, request(customer(store)))
    assert (result.status, result.channel) == ("sent", "email")
    [message] = store.outbox.for_customer("c1")
    assert (message.recipient, message.subject) == ("ana@example.com", "Hello Ana")
    assert message.html == "<p>Tea &amp; cake for Ana</p>"  # escaped in HTML only
    assert message.text == "Tea & cake for Ana"
    assert (message.template_file, message.locale) == ("promo/offer.email.j2", "")
    assert message.journey_time == NOW
    [row] = store.ledger.for_customer("c1")
    assert (row.status, row.provider_message_id) == ("sent", result.message_id)
    assert (row.workflow_id, row.run_id, row.step_id) == ("journey/promo/c1", "run-1", "offer")


async def test_falls_back_past_unreachable_and_unconsented_channels(
    store: Store, delivery: DeliveryActivities
) -> None:
    # No push token; a phone but no SMS consent; email with consent.
    customer(store, phone="+33600000000", consent={"email": True, "sms": False})
    result = await deliver(delivery, request("c1", "push", "sms", "email"))
    assert (result.status, result.channel) == ("sent", "email")
    assert [(d.channel, d.status) for d in result.decisions] == [
        ("push", "suppressed:unreachable"),
        ("sms", "suppressed:no-consent"),
        ("email", "sent"),
    ]
    assert ledger(store) == [
        ("push", "suppressed:unreachable"),
        ("sms", "suppressed:no-consent"),
        ("email", "sent"),
    ]


async def test_no_usable_channel_means_suppressed_and_nothing_stored(
    store: Store, delivery: DeliveryActivities, adapter: Recording
) -> None:
    customer(store, push_token="tok", consent={})
    result = await deliver(delivery, request("c1", "push", "email", "sms"))
    assert result.status == "suppressed" and result.channel is None
    assert ledger(store) == [
        ("push", "suppressed:no-consent"),
        ("email", "suppressed:no-consent"),
        ("sms", "suppressed:unreachable"),
    ]
    assert adapter.calls == [] and store.outbox.for_customer("c1") == []


async def test_unknown_customer_has_no_address(store: Store, delivery: DeliveryActivities) -> None:
    result = await deliver(delivery, request("ghost", "email", "sms"))
    assert result.status == "suppressed"
    assert ledger(store, "ghost") == [
        ("email", "suppressed:unreachable"),
        ("sms", "suppressed:unreachable"),
    ]


async def test_consent_is_marketing_consent_transactional_messages_do_not_need_it(
    store: Store, delivery: DeliveryActivities
) -> None:
    customer(store, consent={"email": False})  # unsubscribed from marketing email
    promo = await deliver(delivery, request("c1", purpose="marketing"))
    receipt = await deliver(
        delivery, request("c1", purpose="transactional", delivery_key="order/c1/receipt")
    )
    assert promo.status == "suppressed"
    assert (receipt.status, receipt.channel) == ("sent", "email")
    assert ledger(store) == [("email", "suppressed:no-consent"), ("email", "sent")]
    [message] = store.outbox.for_customer("c1")
    assert message.delivery_key == "order/c1/receipt"


async def test_transactional_messages_still_need_an_address(
    store: Store, delivery: DeliveryActivities
) -> None:
    result = await deliver(delivery, request("ghost", "push", "email", purpose="transactional"))
    assert result.status == "suppressed"
    assert ledger(store, "ghost") == [
        ("push", "suppressed:unreachable"),
        ("email", "suppressed:unreachable"),
    ]


@pytest.mark.parametrize("purpose", ["marketing", "transactional"])
async def test_a_suppressed_address_wins_over_consent_whatever_the_purpose(
    store: Store, delivery: DeliveryActivities, adapter: Recording, purpose: str
) -> None:
    customer(store, email="Ana@Example.com", phone="+33600000000", consent={"email": True})
    assert store.consent.suppress(
        "email", " ana@example.COM", "hard bounce: 550 5.1.1 no such user"
    )
    result = await deliver(delivery, request("c1", "email", "sms", purpose=purpose))
    if purpose == "marketing":  # no SMS consent: nothing left
        assert result.status == "suppressed"
        assert ledger(store) == [
            ("email", "suppressed:suppression-list"),
            ("sms", "suppressed:no-consent"),
        ]
        assert adapter.calls == []
    else:  # a receipt falls back to the reachable, unsuppressed SMS
        assert (result.status, result.channel) == ("sent", "sms")
        assert ledger(store) == [("email", "suppressed:suppression-list"), ("sms", "sent")]
    assert "Ana@Example.com is on the email suppression list" in result.decisions[0].reason


def test_blocked_checks_address_then_suppression_then_marketing_consent() -> None:
    nobody = {"email": None, "consent": {"email": True}}
    ana = {"email": "ana@example.com", "consent": {"email": False}}
    assert blocked("email", nobody, "transactional", {"email"}) == (
        "suppressed:unreachable",
        "no email on file",
    )
    assert blocked("email", ana, "marketing", {"email"})[0] == "suppressed:suppression-list"
    assert blocked("email", ana, "transactional", {"email"})[0] == "suppressed:suppression-list"
    assert blocked("email", ana, "marketing")[0] == "suppressed:no-consent"
    assert blocked("email", ana, "transactional") is None


async def test_a_retry_after_success_does_not_send_again(
    store: Store, delivery: DeliveryActivities, adapter: Recording
) -> None:
    customer(store, phone="+33600000000", consent={"email": False, "sms": True})
    first = await deliver(delivery, request("c1", "email", "sms"))
    again = await deliver(delivery, request("c1", "email", "sms"))
    assert again == first
    assert len(adapter.calls) == 1 and len(store.outbox.for_customer("c1")) == 1


async def test_a_crash_after_the_provider_call_still_sends_once(
    store: Store, templates: Templates
) -> None:
    crashing = Recording(OutboxAdapter(store), fail_after_first=True)
    delivery = DeliveryActivities(store, templates, {"email": crashing, "sms": crashing})
    customer(store, phone="+33600000000", consent={"email": True, "sms": True})
    with pytest.raises(ConnectionResetError):  # transient: Temporal would retry
        await deliver(delivery, request("c1", "email", "sms"))
    assert ledger(store) == [("email", "reserved")]
    # Even with consent withdrawn meanwhile, the retry finishes the reserved channel
    # (the message may be out already) and never falls back to SMS.
    store.customers.upsert("c1", consent={"email": False})
    result = await deliver(delivery, request("c1", "email", "sms"))
    assert (result.status, result.channel) == ("sent", "email")
    assert [m.delivery_key for m in crashing.calls] == [request("c1").delivery_key] * 2
    [message] = store.outbox.for_customer("c1")
    assert result.message_id == f"outbox-{message.id}"
    assert ledger(store) == [("email", "sent")]


async def test_a_retry_of_a_reserved_send_goes_to_the_stored_recipient(
    store: Store, templates: Templates
) -> None:
    """The first attempt may have reached the provider: the retry sends the same key to the
    same address, without re-checking a profile that changed meanwhile."""
    crashing = Recording(OutboxAdapter(store), fail_after_first=True)
    delivery = DeliveryActivities(store, templates, {"email": crashing, "sms": crashing})
    customer(store, phone="+33600000000", consent={"email": False, "sms": True})
    with pytest.raises(ConnectionResetError):
        await deliver(delivery, request("c1", "email", "sms"))
    assert ledger(store) == [("email", "suppressed:no-consent"), ("sms", "reserved")]
    assert store.ledger.for_customer("c1")[1].recipient == "+33600000000"
    # New number, then no number at all: neither changes where the reserved send goes.
    store.customers.upsert("c1", phone="+33611111111", consent={"email": True})
    store.customers.upsert("c1", phone=None)
    result = await deliver(delivery, request("c1", "email", "sms"))
    assert (result.status, result.channel) == ("sent", "sms")
    assert [(m.recipient, m.delivery_key) for m in crashing.calls] == [
        ("+33600000000", request("c1").delivery_key)
    ] * 2
    # Email, consented meanwhile, is not tried: the SMS may be out already.
    assert ledger(store) == [("email", "suppressed:no-consent"), ("sms", "sent")]
    assert [(d.channel, d.status) for d in result.decisions] == [
        ("email", "suppressed:no-consent"),
        ("sms", "sent"),
    ]


async def test_an_overlapping_attempt_never_sends_after_another_one_sent(
    tmp_path: Path, templates: Templates
) -> None:
    """Attempt 2 read the ledger before attempt 1 marked it sent (a start-to-close timeout
    while attempt 1 still ran): its reservation finds the sent row and it stops there."""
    store = StaleLedger(f"sqlite:///{tmp_path / 'journeys.db'}")
    store.create_schema()
    adapter = Recording(OutboxAdapter(store))
    delivery = DeliveryActivities(store, templates, {"email": adapter})
    customer(store)
    store.stale_reads = 0
    first = await deliver(delivery, request("c1"))
    store.stale_reads = 1
    second = await deliver(delivery, request("c1"))
    assert second == first and len(adapter.calls) == 1
    assert ledger(store) == [("email", "sent")]


async def test_a_refused_channel_falls_back_to_the_next_one(
    store: Store, templates: Templates
) -> None:
    refusing = Refusing(PermanentChannelError("21211 invalid 'To' phone number"))
    outbox = Recording(OutboxAdapter(store))
    delivery = DeliveryActivities(store, templates, {"sms": refusing, "email": outbox})
    customer(store, phone="+33600000000", consent={"email": True, "sms": True})
    result = await deliver(delivery, request("c1", "sms", "email"))
    assert (result.status, result.channel) == ("sent", "email")
    assert [(d.channel, d.status) for d in result.decisions] == [
        ("sms", "failed:adapter"),
        ("email", "sent"),
    ]
    assert "invalid 'To' phone number" in result.decisions[0].reason
    assert ledger(store) == [("sms", "failed:adapter"), ("email", "sent")]


async def test_a_retry_never_calls_a_provider_that_refused(
    store: Store, templates: Templates
) -> None:
    refusing = Refusing(ApplicationError("invalid number", non_retryable=True))
    flaky = Flaky(OutboxAdapter(store))
    delivery = DeliveryActivities(store, templates, {"sms": refusing, "email": flaky})
    customer(store, phone="+33600000000", consent={"email": True, "sms": True})
    with pytest.raises(TimeoutError):  # transient: Temporal would retry
        await deliver(delivery, request("c1", "sms", "email"))
    assert ledger(store) == [("sms", "failed:adapter"), ("email", "reserved")]
    result = await deliver(delivery, request("c1", "sms", "email"))
    assert (result.status, result.channel) == ("sent", "email")
    assert refusing.calls == 1
    assert ledger(store) == [("sms", "failed:adapter"), ("email", "sent")]


async def test_every_channel_refused_fails_for_good_even_on_retry(
    store: Store, templates: Templates
) -> None:
    refusing = Refusing()
    delivery = DeliveryActivities(store, templates, {"sms": refusing, "email": refusing})
    customer(store, phone="+33600000000", consent={"email": True, "sms": True})
    for _ in range(2):
        with pytest.raises(ApplicationError) as failure:
            await deliver(delivery, request("c1", "sms", "email"))
        assert failure.value.non_retryable
        assert "+33600000000 bounced" in failure.value.message
        assert "ana@example.com bounced" in failure.value.message
    assert refusing.calls == 2  # once per channel, never again on the retry
    assert ledger(store) == [("sms", "failed:adapter"), ("email", "failed:adapter")]


@pytest.mark.parametrize(
    ("locale", "subject", "file"),
    [
        ("fr", "Bonjour Ana", "promo/offer.email.fr.j2"),
        ("fr-CA", "Bonjour Ana", "promo/offer.email.fr.j2"),
        ("de", "Hello Ana", "promo/offer.email.j2"),
    ],
)
async def test_renders_the_customer_locale_or_the_default(
    store: Store, delivery: DeliveryActivities, locale: str, subject: str, file: str
) -> None:
    await deliver(delivery, request(customer(store, locale=locale)))
    [message] = store.outbox.for_customer("c1")
    assert (message.subject, message.template_file) == (subject, file)


async def test_a_template_error_fails_for_good_and_is_recorded(
    store: Store, delivery: DeliveryActivities
) -> None:
    with pytest.raises(ApplicationError) as failure:
        await deliver(delivery, request(customer(store), template="broken/oops"))
    assert failure.value.non_retryable
    assert "broken/oops" in failure.value.message and "nickname" in failure.value.message
    assert ledger(store) == [("email", "failed:render")]
    assert store.outbox.for_customer("c1") == []


async def test_a_permanent_provider_error_fails_for_good_and_is_recorded(
    store: Store, templates: Templates
) -> None:
    delivery = DeliveryActivities(store, templates, {"email": Refusing()})
    with pytest.raises(ApplicationError) as failure:
        await deliver(delivery, request(customer(store)))
    assert failure.value.non_retryable and "bounced" in failure.value.message
    [row] = store.ledger.for_customer("c1")
    assert row.status == "failed:adapter" and "bounced" in row.reason


def test_build_activities_registers_every_contract_name(store: Store, templates: Templates) -> None:
    functions = build_activities(store, templates, Expressions())
    names = {activity._Definition.must_from_callable(fn).name for fn in functions}
    assert names == {
        "deliver",
        "evaluate_condition",
        "resolve_wait_until",
        "update_customer",
        "change_points",
        "record_fact",
        "record_facts",
        "record_entry",
        "award_badge",
        "issue_coupon",
    }
    assert set(default_adapters(store)) == {"email", "sms", "push"}
