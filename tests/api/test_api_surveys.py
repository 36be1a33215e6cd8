"""``/s/{token}`` over real HTTP, on SQLite and PostgreSQL: GET records nothing, POST records
one ``nps.answered`` per invitation, and every bad link or body is refused with nothing stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from journeys.delivery import unsubscribe
from journeys.delivery.surveys import make_token
from journeys.delivery.unsubscribe import UnsubscribeSettings
from journeys.model.surveys import answer_event_id
from journeys.store import Store
from tests.api_server import FORM, UNSUBSCRIBE, api_client

ANSWER_ID = answer_event_id("nps-survey", "entry-1", "ana")


@pytest.fixture
def store(each_database_store: Store) -> Store:
    each_database_store.customers.upsert("ana", email="ana@example.com", consent={"email": True})
    each_database_store.customers.upsert("chloe", email="c@example.com", locale="fr-FR")
    return each_database_store


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(store) as client:
        yield client


def link(
    score: int,
    customer_id: str = "ana",
    *,
    settings: UnsubscribeSettings = UNSUBSCRIBE,
    issued_at: datetime | None = None,
) -> str:
    issued = issued_at or datetime.now(UTC)
    token = make_token(
        customer_id, "nps-survey", "entry-1", score, settings=settings, issued_at=issued
    )
    return f"/s/{token}"


def answers(store: Store, customer_id: str = "ana") -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.id, e.name, e.properties) for e in store.events.for_customer(customer_id)]


async def test_get_shows_the_score_and_a_form_and_records_nothing(
    api: httpx.AsyncClient, store: Store
) -> None:
    for _ in range(3):  # a mail scanner fetches every link, maybe more than once
        for score in range(11):
            response = await api.get(link(score))
            assert response.status_code == 200
    assert "You chose <strong>10</strong> out of 10." in response.text
    assert '<form method="post">' in response.text and 'name="comment"' in response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers  # the token is the credential, no session
    assert answers(store) == []
    assert store.events.pending_count() == 0


async def test_the_page_speaks_the_customers_language(api: httpx.AsyncClient) -> None:
    response = await api.get(link(4, "chloe"))
    assert '<html lang="fr">' in response.text
    assert "Vous avez choisi <strong>4</strong> sur 10." in response.text
    response = await api.post(link(4, "chloe"))
    assert "Merci ! Votre réponse, 4 sur 10, est enregistrée." in response.text


async def test_post_records_one_answer_with_its_score_and_comment(
    api: httpx.AsyncClient, store: Store
) -> None:
    before = datetime.now(UTC)
    response = await api.post(
        link(9), content=b"comment=Quick+delivery%2C%0Athanks%21", headers=FORM
    )

    assert response.status_code == 200
    assert "Your answer, 9 out of 10, is recorded." in response.text
    properties = {
        "score": 9,
        "survey": "nps-survey",
        "entry": "entry-1",
        "comment": "Quick delivery,\nthanks!",
    }
    assert answers(store) == [(ANSWER_ID, "nps.answered", properties)]
    [record] = store.events.for_customer("ana")
    assert record.occurred_at.replace(tzinfo=UTC) >= before.replace(microsecond=0)
    assert [e.id for e in store.events.pending()] == [ANSWER_ID]  # for the relay to route


async def test_a_blank_comment_is_no_comment(api: httpx.AsyncClient, store: Store) -> None:
    response = await api.post(link(3), content=b"comment=+%0D%0A+", headers=FORM)
    assert response.status_code == 200
    assert answers(store) == [
        (ANSWER_ID, "nps.answered", {"score": 3, "survey": "nps-survey", "entry": "entry-1"})
    ]


async def test_the_first_answer_counts_and_a_later_one_changes_nothing(
    api: httpx.AsyncClient, store: Store
) -> None:
    assert (await api.post(link(2))).status_code == 200
    first = answers(store)

    again = await api.post(link(2))
    other = await api.post(link(10), content=b"comment=changed+my+mind", headers=FORM)

    for response in (again, other):
        assert response.status_code == 200
        assert "We already have your answer to this survey: the first one counts." in (
            response.text
        )
    assert answers(store) == first
    assert first[0][2]["score"] == 2
    page = await api.get(link(7))
    assert "We already have your answer" in page.text and "<form" not in page.text


async def test_racing_answers_to_one_invitation_store_one(
    api: httpx.AsyncClient, store: Store
) -> None:
    responses = await asyncio.gather(*(api.post(link(score)) for score in range(11)))
    assert {r.status_code for r in responses} == {200}
    thanked = [r for r in responses if "is recorded" in r.text]
    [(event_id, _, properties)] = answers(store)
    assert event_id == ANSWER_ID and len(thanked) == 1
    assert f"Your answer, {properties['score']} out of 10" in thanked[0].text


@pytest.mark.parametrize(
    ("body", "headers", "status", "loc", "message"),
    [
        (b"comment=" + b"x" * 2001, FORM, 422, ["body", "comment"], "at most 2000 characters"),
        (b"comment=a%00b", FORM, 422, ["body", "comment"], "control characters"),
        (b"comment=a%1Bb", FORM, 422, ["body", "comment"], "control characters"),
        (b"comment=a&comment=b", FORM, 422, ["body", "comment"], "more than once"),
        (b"score=0", FORM, 422, ["body", "score"], "unknown field"),
        (b"comment=%FF", FORM, 422, ["body"], "not percent-encoded UTF-8"),
        ("comment=é".encode(), FORM, 422, ["body"], "not percent-encoded UTF-8"),
        (b"a=1&" * 30, FORM, 422, ["body"], "too many fields"),
        (
            b'{"comment": "hi"}',
            {"Content-Type": "application/json"},
            415,
            None,
            FORM["Content-Type"],
        ),
    ],
)
async def test_a_bad_body_is_refused_naming_the_field_and_records_nothing(
    api: httpx.AsyncClient,
    store: Store,
    body: bytes,
    headers: dict[str, str],
    status: int,
    loc: list[str] | None,
    message: str,
) -> None:
    response = await api.post(link(9), content=body, headers=headers)
    assert response.status_code == status, response.text
    if loc is None:
        assert message in response.text
    else:
        [detail] = response.json()["detail"]
        assert detail["loc"] == loc and message in detail["msg"]
    assert answers(store) == []
    assert store.events.pending_count() == 0


def _forged() -> list[str]:
    genuine = link(3).removeprefix("/s/")
    payload, _, signature = genuine.partition(".")
    other_key = UnsubscribeSettings(secret_key="another-key-of-enough-length-0123456789abc")
    opt_out = unsubscribe.make_token("ana", "email", "marketing", settings=UNSUBSCRIBE)
    return [
        f"{payload}.{signature[:-1]}A" if signature[-1] != "A" else f"{payload}.{signature[:-1]}B",
        f"{payload[:-2]}.{signature}",
        payload,
        link(3, settings=other_key).removeprefix("/s/"),
        opt_out,  # an unsubscribe token is no answer
    ]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_link_not_signed_by_us_is_refused_and_records_nothing(
    api: httpx.AsyncClient, store: Store, method: str
) -> None:
    for token in _forged():
        response = await api.request(method, f"/s/{token}")
        assert response.status_code == 400, token
        assert "This survey link is not valid" in response.text
    response = await api.request(method, "/s/not a token!")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "token"]
    assert answers(store) == []


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_expired_link_gets_410_and_records_nothing(
    api: httpx.AsyncClient, store: Store, method: str
) -> None:
    old = datetime.now(UTC) - timedelta(days=UNSUBSCRIBE.survey_token_days, hours=1)
    response = await api.request(method, link(10, issued_at=old))
    assert response.status_code == 410
    assert "This survey link has expired, so nothing was recorded." in response.text
    french = await api.request(method, link(10, "chloe", issued_at=old))
    assert "Ce lien d\u2019enquête a expiré" in french.text
    assert answers(store) == []


async def test_links_signed_before_a_key_rotation_still_answer(store: Store) -> None:
    old_key = UNSUBSCRIBE.secret_key
    assert old_key is not None
    rotated = UnsubscribeSettings(
        secret_key="the-new-key-after-rotation-0123456789abcdef",
        previous_secret_keys=old_key.get_secret_value(),
        public_url="https://journeys.example.com",
    )
    async with api_client(store, unsubscribe_settings=rotated) as api:
        response = await api.post(link(8))  # signed with the old key
    assert response.status_code == 200
    assert [p["score"] for _, _, p in answers(store)] == [8]


async def test_without_a_secret_key_links_cannot_be_checked_503(store: Store) -> None:
    unset = UnsubscribeSettings(secret_key=None, public_url="https://journeys.example.com")
    async with api_client(store, unsubscribe_settings=unset) as api:
        for method in ("GET", "POST"):
            response = await api.request(method, link(8))
            assert response.status_code == 503
    assert answers(store) == []


async def test_the_route_is_documented_with_its_refusals(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    operations = document["paths"]["/s/{token}"]
    assert set(operations["get"]["responses"]) == {"200", "400", "410", "422", "503"}
    assert set(operations["post"]["responses"]) == {"200", "400", "410", "413", "415", "422", "503"}
    form = operations["post"]["requestBody"]["content"][FORM["Content-Type"]]["schema"]
    assert form["properties"]["comment"]["maxLength"] == 2000
    assert form["additionalProperties"] is False
