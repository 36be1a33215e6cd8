"""``GET /v1/kpis`` over the scripted world of ``tests/kpi_world.py``: the same figures as
``journeys kpis --json``, and a 422 naming the parameter for what cannot be reported.

The API on a real socket over the ``data`` folder's SQLite store, whose ``loyalty.yaml``
(in the working directory) sets ``kpis.lifetime_years: 2``: both sides read it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from journeys.cli.main import app
from journeys.process.settings import Settings
from journeys.store import Store
from tests.api_server import api_client
from tests.kpi_world import build_world

PERIOD = {"since": "2026-09-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}


@pytest.fixture
async def api(data: Store) -> AsyncIterator[httpx.AsyncClient]:
    Path("loyalty.yaml").write_text("kpis: {lifetime_years: 2}\n", encoding="utf-8")
    build_world(data)
    key, _ = data.access.create_key("kpis")
    async with api_client(data, Settings()) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def _named(answer: httpx.Response, *loc: Any) -> None:
    assert answer.status_code == 422, answer.text
    assert tuple(answer.json()["detail"][0]["loc"]) == loc, answer.text


async def test_the_api_and_the_cli_give_the_same_figures(api: httpx.AsyncClient) -> None:
    answer = await api.get("/v1/kpis", params={**PERIOD, "by": "tier", "series": "month"})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["lifetime_years"] == 2.0
    assert body["overall"]["clv"] == 2857.78  # 1780 / 5 x 365.25 / 91 x 2
    assert body["overall"]["nps"] == 33.3
    assert [g["group"] for g in body["groups"]] == ["member", "silver", "gold", "platinum"]
    october = body["buckets"][1]
    assert october["since"] == "2026-10-01T00:00:00Z"
    assert (october["overall"]["nps"], october["overall"]["average_order_value"]) == (None, None)
    options = "--since 2026-09-01 --until 2026-12-01 --by tier --series month --json"
    cli = CliRunner().invoke(app, ["kpis", *options.split()])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output) == body


async def test_the_cli_table_shows_the_figures_formatted(api: httpx.AsyncClient) -> None:
    result = CliRunner().invoke(
        app, ["kpis", "--since", "2026-09-01", "--until", "2026-12-01", "--series", "month"]
    )
    assert result.exit_code == 0, result.output
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in result.output.splitlines()
        if "│" in line
    ]
    whole = {row[0]: row[1] for row in rows[:16]}  # the first table: the whole period
    assert whole["estimated CLV"] == "2,857.78"
    assert whole["active-member ratio"] == "60.0 %"
    assert whole["NPS"] == "+33.3"
    # The monthly table: September, October (nothing happened: a dash), November.
    assert "By month, all" in result.output
    monthly_nps = [row[1:] for row in rows[16:] if row[0] == "NPS"]
    assert monthly_nps == [["-100.0", "\u2013", "+100.0"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-12-01T00:00:00Z", "until": "2026-09-01T00:00:00Z"}, "until"),
        ({"since": "2026-12-01T00:00:00Z", "until": "2026-12-01T00:00:00+00:00"}, "until"),
        (
            {"since": "2000-01-01T00:00:00Z", "until": "2026-12-01T00:00:00Z", "series": "day"},
            "series",
        ),
        ({**PERIOD, "series": "hour"}, "series"),
        ({**PERIOD, "by": "city"}, "by"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-12-01T00:00:00"}, "until"),  # no offset
    ],
)
async def test_a_bad_parameter_gets_a_422_naming_it(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    _named(await api.get("/v1/kpis", params=params), "query", field)


async def test_kpis_need_an_api_key(api: httpx.AsyncClient) -> None:
    answer = await api.get("/v1/kpis", params=PERIOD, headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401


async def test_the_widest_period_still_answers(api: httpx.AsyncClient) -> None:
    answer = await api.get(
        "/v1/kpis",
        params={"since": "1970-01-01T00:00:00+14:00", "until": "2999-12-31T23:59:59-14:00"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["overall"]["members"] == 6  # everyone, e too


async def test_the_openapi_document_shows_the_route_with_an_example(
    api: httpx.AsyncClient,
) -> None:
    operation = (await api.get("/openapi.json")).json()["paths"]["/v1/kpis"]["get"]
    assert {"200", "401", "422"} <= set(operation["responses"])
    example = operation["responses"]["200"]["content"]["application/json"]["example"]
    assert example["overall"]["clv"] == 2857.78
    assert [p["name"] for p in operation["parameters"]] == ["since", "until", "by", "series"]
