"""The deliver activity puts signed answer links in a message: ``survey_url(score)``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.channels import OutboxAdapter
from activities.deliver import DeliveryActivities
from journeys.delivery.surveys import read_token
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.rendering.templating import Templates
from journeys.store import Store
from tests.api_server import UNSUBSCRIBE
from tests.deliveries import NOW, customer, deliver, request
from tests.survey_links import html_links, text_links

ASK = (
    "{% block subject %}How did we do?{% endblock %}"
    "{% block html %}{% for n in range(11) %}"
    '<a href="{{ survey_url(n) }}">{{ n }}</a>'
    "{% endfor %}{% endblock %}"
    "{% block text %}10: {{ survey_url(10) }} / q1: {{ survey_url(0, survey='q1-nps') }}"
    "{% endblock %}"
)


@pytest.fixture
def templates(tmp_path: Path) -> Templates:
    (tmp_path / "nps").mkdir()
    (tmp_path / "nps" / "ask.email.j2").write_text(ASK)
    return Templates(tmp_path)


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


def delivery(
    store: Store, templates: Templates, links: UnsubscribeSettings | None
) -> DeliveryActivities:
    return DeliveryActivities(store, templates, {"email": OutboxAdapter(store)}, links=links)


async def test_a_message_carries_eleven_signed_links_for_its_entry(
    store: Store, templates: Templates
) -> None:
    req = request(customer(store), template="nps/ask", entry_id="entry-1")
    result = await deliver(delivery(store, templates, UNSUBSCRIBE), req)
    assert result.status == "sent"

    [message] = store.outbox.for_customer("c1")
    links = html_links(message.html or "")
    assert len(links) == 11
    assert all(link.startswith("https://journeys.example.com/s/") for link in links)
    later = NOW + timedelta(days=1)
    read = [read_token(link.rpartition("/")[2], settings=UNSUBSCRIBE, now=later) for link in links]
    assert [a.score for a in read] == list(range(11))
    # The scenario names the survey; the entry is the journey's; issued at the journey's clock
    assert {(a.customer_id, a.survey, a.entry, a.issued_at) for a in read} == {
        ("c1", "promo", "entry-1", NOW)
    }
    ten, named = (
        read_token(u.rpartition("/")[2], settings=UNSUBSCRIBE, now=later)
        for u in text_links(message.text)
    )
    assert (ten.score, ten.survey) == (10, "promo")
    assert (named.score, named.survey) == (0, "q1-nps")


async def test_an_entry_from_before_entry_ids_is_named_by_its_delivery_key(
    store: Store, templates: Templates
) -> None:
    req = request(customer(store), template="nps/ask")
    assert req.entry_id == ""
    await deliver(delivery(store, templates, UNSUBSCRIBE), req)
    [message] = store.outbox.for_customer("c1")
    [ten, _] = text_links(message.text)
    answer = read_token(ten.rpartition("/")[2], settings=UNSUBSCRIBE, now=NOW)
    assert answer.entry == req.delivery_key


async def test_without_a_secret_key_a_survey_message_fails_to_render_and_says_why(
    store: Store, templates: Templates
) -> None:
    unsigned = UnsubscribeSettings(secret_key=None, public_url="https://journeys.example.com")
    with pytest.raises(ApplicationError) as failure:
        await deliver(
            delivery(store, templates, unsigned),
            request(customer(store), template="nps/ask", entry_id="entry-1"),
        )
    assert failure.value.non_retryable
    assert "JOURNEYS_SECRET_KEY is not set" in failure.value.message
    assert [row.status for row in store.ledger.for_customer("c1")] == ["failed:render"]
    assert store.outbox.for_customer("c1") == []


async def test_messages_without_survey_links_need_no_secret_key(
    store: Store, templates: Templates, monkeypatch: pytest.MonkeyPatch
) -> None:
    (templates.root / "plain").mkdir()
    (templates.root / "plain" / "hi.email.j2").write_text(
        "{% block subject %}Hi{% endblock %}{% block html %}Hi{% endblock %}"
        "{% block text %}Hi{% endblock %}"
    )
    monkeypatch.delenv("JOURNEYS_SECRET_KEY", raising=False)
    result = await deliver(
        delivery(store, templates, None), request(customer(store), template="plain/hi")
    )
    assert result.status == "sent"
