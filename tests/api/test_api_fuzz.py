"""Generated input against the API: whatever a client sends, the answer is never a 5xx.

Hypothesis builds bodies from the OpenAPI shapes (and beyond them: wrong types, odd
text, deep JSON), sent over a real socket; 4xx is fine, 2xx is fine, 5xx fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeys.api import create_app, serving
from journeys.process.settings import Settings
from journeys.store import Store
from tests.api_server import UNSUBSCRIBE

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
TEXT = st.text(max_size=40)
EVENT = st.fixed_dictionaries(
    {"customer_id": TEXT, "name": TEXT},
    optional={
        "id": TEXT,
        "properties": st.dictionaries(TEXT, JSON, max_size=4),
        "occurred_at": st.datetimes().map(lambda d: d.isoformat()) | TEXT,
        "extra": JSON,
    },
)
PROFILE = st.dictionaries(
    st.sampled_from(
        [
            "email",
            "phone",
            "push_token",
            "locale",
            "time_zone",
            "birthday",
            "consent",
            "attributes",
            "id",
            "first_name",
        ]
    )
    | TEXT,
    JSON | st.dictionaries(st.sampled_from(["email", "sms", "push", "fax"]), JSON, max_size=3),
    max_size=6,
)
PATH_ID = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"), min_size=1, max_size=30
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Store]]:
    """The app on a loopback port, in a thread of its own (hypothesis drives it synchronously)."""
    import threading

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'journeys.db'}")
    store.create_schema()
    key, _ = store.access.create_key("fuzz")
    app = create_app(Settings(), store, unsubscribe_settings=UNSUBSCRIBE)
    ready: dict[str, Any] = {}
    stop = threading.Event()

    def run() -> None:
        async def main() -> None:
            async with serving(app, "127.0.0.1", 0) as serving_at:
                ready["url"] = serving_at.url
                while not stop.is_set():
                    await asyncio.sleep(0.05)

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while "url" not in ready:
        stop.wait(0.05)
    yield ready["url"], key, store
    stop.set()
    thread.join(timeout=10)


FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _client(served: tuple[str, str, Store]) -> httpx.Client:
    url, key, _ = served
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


@FUZZ
@given(body=EVENT | JSON)
def test_post_event_never_answers_5xx(served: tuple[str, str, Store], body: Any) -> None:
    with _client(served) as client:
        assert client.post("/v1/events", json=body).status_code < 500


@FUZZ
@given(events=st.lists(EVENT, max_size=5) | JSON)
def test_post_batch_never_answers_5xx(served: tuple[str, str, Store], events: Any) -> None:
    with _client(served) as client:
        assert client.post("/v1/events/batch", json={"events": events}).status_code < 500


@FUZZ
@given(customer_id=PATH_ID, profile=PROFILE)
def test_put_customer_never_answers_5xx(
    served: tuple[str, str, Store], customer_id: str, profile: dict[str, Any]
) -> None:
    with _client(served) as client:
        path = f"/v1/customers/{quote(customer_id, safe='')}"
        answer = client.put(path, json=profile)
        assert answer.status_code < 500, answer.text
        assert client.get(path).status_code < 500


def test_the_openapi_document_lists_every_v1_endpoint(served: tuple[str, str, Store]) -> None:
    with _client(served) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/events",
        "/v1/events/batch",
        "/v1/customers/{customer_id}",
        "/v1/customers/{customer_id}/journeys",
        "/v1/scenarios",
    } <= set(paths)
