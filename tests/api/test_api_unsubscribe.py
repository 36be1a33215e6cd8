"""``/u/{token}`` over real HTTP and a real SQLite store: the page, one-click, forgeries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis

from activities.channels.base import OutgoingMessage
from activities.channels.smtp import SmtpAdapter, SmtpSettings
from journeys.delivery.unsubscribe import UnsubscribeSettings, make_token
from journeys.store import Store
from tests.api_server import FORM, UNSUBSCRIBE, api_client


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'journeys.db'}")
    store.create_schema()
    store.customers.upsert(
        "ana", email="ana@example.com", phone="+33612345678", consent={"email": True, "sms": True}
    )
    return store


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(store) as client:
        yield client


def link(customer_id: str = "ana", channel: str = "email", purpose: str = "marketing") -> str:
    return f"/u/{make_token(customer_id, channel, purpose, settings=UNSUBSCRIBE)}"


def consent(store: Store, customer_id: str = "ana") -> dict[str, bool]:
    customer = store.customers.get(customer_id)
    assert customer is not None
    return dict(customer["consent"])


async def test_get_shows_a_confirmation_page_and_changes_nothing(
    api: httpx.AsyncClient, store: Store
) -> None:
    response = await api.get(link())

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    page = response.text
    assert "Stop sending marketing emails to a•••@example.com?" in page
    assert '<form method="post">' in page and "<button" in page
    assert "ana@example.com" not in page  # a forwarded link does not reveal the address
    assert consent(store) == {"email": True, "sms": True, "push": False}
    assert store.consent.changes("ana") == []


async def test_one_click_post_withdraws_marketing_consent_once(
    api: httpx.AsyncClient, store: Store
) -> None:
    before = datetime.now(UTC)
    for _ in range(2):  # mailbox providers may post twice; a customer may click again
        response = await api.post(link(), content=b"List-Unsubscribe=One-Click", headers=FORM)
        assert response.status_code == 200
        assert "You will not receive our marketing emails any more." in response.text

    assert consent(store) == {"email": False, "sms": True, "push": False}
    [change] = store.consent.changes("ana")
    assert (change.channel, change.purpose, change.granted) == ("email", "marketing", False)
    assert change.source == "unsubscribe-link"
    assert change.detail.startswith("one-click")
    assert before - timedelta(seconds=1) <= change.created_at <= datetime.now(UTC)
    # The page now says so instead of offering the button again.
    page = (await api.get(link())).text
    assert "does not receive our marketing emails" in page and "<button" not in page


async def test_an_empty_or_multipart_post_and_the_page_button_also_unsubscribe(
    api: httpx.AsyncClient, store: Store
) -> None:
    store.customers.upsert("ben", email="ben@example.com", consent={"email": True})
    store.customers.upsert("eve", email="eve@example.com", consent={"email": True})

    empty = await api.post(link("ana", "sms"))
    multipart = await api.post(  # RFC 8058's preferred encoding
        link("ben"), files={"List-Unsubscribe": (None, "One-Click")}
    )
    button = await api.post(link("eve"), data={"confirm": "yes"})

    assert [r.status_code for r in (empty, multipart, button)] == [200, 200, 200]
    assert consent(store) == {"email": True, "sms": False, "push": False}
    assert consent(store, "ben")["email"] is False
    assert consent(store, "eve")["email"] is False
    assert store.consent.changes("ana")[0].detail.startswith("empty post")
    assert store.consent.changes("ben")[0].detail.startswith("one-click")
    assert store.consent.changes("eve")[0].detail.startswith("confirmation page")


async def test_a_tampered_token_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, store: Store
) -> None:
    store.customers.upsert("ben", email="ben@example.com", consent={"email": True})
    token = link("ana").removeprefix("/u/")
    payload, _, signature = token.partition(".")
    bens_payload = make_token("ben", "email", "marketing", settings=UNSUBSCRIBE).partition(".")[0]
    forged_key = UnsubscribeSettings(secret_key="another-secret-0123456789abcdefghij")
    forgeries = [
        f"{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",  # one char off
        f"{bens_payload}.{signature}",  # someone else's id under Ana's signature
        payload,  # signature cut off
        make_token("ben", "email", "marketing", settings=forged_key),  # signed elsewhere
    ]
    for forged in forgeries:
        for method in ("GET", "POST"):
            response = await api.request(
                method, f"/u/{forged}", content=b"List-Unsubscribe=One-Click", headers=FORM
            )
            assert response.status_code == 400, (method, forged)
            assert response.headers["content-type"].startswith("text/plain")
            assert "This unsubscribe link is not valid" in response.text

    assert consent(store) == {"email": True, "sms": True, "push": False}
    assert consent(store, "ben")["email"] is True
    assert store.consent.changes("ana") == store.consent.changes("ben") == []


async def test_the_list_unsubscribe_link_of_a_real_email_works(store: Store) -> None:
    """The URL an SMTP message carries, posted as a mailbox provider does (RFC 8058)."""
    async with api_client(store) as api:
        smtp = SmtpAdapter(
            SmtpSettings(host="127.0.0.1", from_address="news@shop.example", starttls=False),
            UnsubscribeSettings(secret_key=UNSUBSCRIBE.secret_key, public_url=str(api.base_url)),
        )
        mail = smtp.build(
            OutgoingMessage(
                delivery_key="journey/abandoned-cart/ana/1/reminder",
                channel="email",
                recipient="ana@example.com",
                customer_id="ana",
                scenario_id="abandoned-cart",
                step_id="reminder",
                subject="Your cart",
                text="Your cart is waiting.",
                html=None,
                locale="en",
                template_file="abandoned_cart/reminder.email.j2",
                journey_time=datetime.now(UTC),
            )
        )
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = str(mail["List-Unsubscribe"]).strip("<>")
        response = await api.post(url, content=b"List-Unsubscribe=One-Click", headers=FORM)

    assert response.status_code == 200
    assert consent(store)["email"] is False


async def test_without_a_secret_key_links_cannot_be_checked(store: Store) -> None:
    async with api_client(store, unsubscribe_settings=UnsubscribeSettings(secret_key=None)) as api:
        response = await api.post(link())
    assert response.status_code == 503
    assert consent(store)["email"] is True


async def test_healthz(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def legacy_link(customer_id: str, key: str) -> str:
    """A link as the version before issue times made it (``journeys-unsubscribe-v1.``)."""
    payload = urlsafe(json.dumps([customer_id, "email", "marketing"], separators=(",", ":")))
    mac = hmac.new(key.encode(), b"journeys-unsubscribe-v1." + payload.encode(), hashlib.sha256)
    return f"/u/{payload}.{urlsafe(mac.digest())}"


def urlsafe(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_an_expired_link_says_how_to_unsubscribe_otherwise_and_changes_nothing(
    api: httpx.AsyncClient, store: Store
) -> None:
    old = datetime.now(UTC) - timedelta(days=366)  # a year and a day, whatever today is
    expired = f"/u/{make_token('ana', 'email', 'marketing', settings=UNSUBSCRIBE, issued_at=old)}"
    for method in ("GET", "POST"):
        response = await api.request(
            method, expired, content=b"List-Unsubscribe=One-Click", headers=FORM
        )
        assert response.status_code == 410, method
        assert response.headers["content-type"].startswith("text/html")
        assert "This unsubscribe link has expired" in response.text
        assert "more than 365 days ago" in response.text
        assert "use the unsubscribe link in a more recent message" in response.text
        assert "reply to any of our messages" in response.text
    assert consent(store)["email"] is True
    assert store.consent.changes("ana") == []


async def test_the_expired_links_answer_is_the_one_the_openapi_document_lists(
    api: httpx.AsyncClient,
) -> None:
    """Schemathesis's own response checks (status documented, content type, schema) over
    the real answer, as its run over the API would apply them to an expired token."""
    document = (await api.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    old = datetime.now(UTC) - timedelta(days=366)
    token = make_token("ana", "email", "marketing", settings=UNSUBSCRIBE, issued_at=old)
    for method in ("GET", "POST"):
        gone = document["paths"]["/u/{token}"][method.lower()]["responses"]["410"]
        assert "past its lifetime" in gone["description"]
        assert list(gone["content"]) == ["text/html"]
        answer = await api.request(
            method, f"/u/{token}", content=b"List-Unsubscribe=One-Click", headers=FORM
        )
        assert answer.status_code == 410
        case = schema["/u/{token}"][method].Case(path_parameters={"token": token})
        case.validate_response(answer)  # raises, naming the check, when it does not match


async def test_after_a_key_rotation_old_and_pre_upgrade_links_still_unsubscribe(
    store: Store,
) -> None:
    old_key = str(UNSUBSCRIBE.secret_key.get_secret_value())  # type: ignore[union-attr]
    store.customers.upsert("ben", email="ben@example.com", consent={"email": True})
    rotated = UnsubscribeSettings(
        secret_key="the-new-unsubscribe-secret-0123456789abcdef",
        previous_secret_keys=old_key,
        public_url=UNSUBSCRIBE.public_url,
    )
    sent_last_month = datetime.now(UTC) - timedelta(days=30)
    signed_with_old = make_token(
        "ana", "email", "marketing", settings=UNSUBSCRIBE, issued_at=sent_last_month
    )
    async with api_client(store, unsubscribe_settings=rotated) as api:
        response = await api.post(f"/u/{signed_with_old}", content=b"List-Unsubscribe=One-Click",
                                  headers=FORM)  # fmt: skip
        assert response.status_code == 200
        response = await api.post(legacy_link("ben", old_key), content=b"", headers=FORM)
        assert response.status_code == 200
    assert consent(store)["email"] is False
    assert consent(store, "ben")["email"] is False
    # Without the previous key, the same links are refused as not ours.
    store.customers.upsert("ana", consent={"email": True})
    async with api_client(store, unsubscribe_settings=rotated.model_copy(
        update={"previous_secret_keys": None})) as api:  # fmt: skip
        response = await api.post(f"/u/{signed_with_old}", headers=FORM)
        assert response.status_code == 400
    assert consent(store)["email"] is True
