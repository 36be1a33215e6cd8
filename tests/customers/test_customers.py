"""Customer profiles: ``identify`` on SQLite and PostgreSQL, and ``journeys customers``.

The store tests run on both databases (``each_database_store`` of ``tests/conftest.py``); the
command tests run in-process (``CliRunner``) on a SQLite store in a temporary data folder.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner, Result

from journeys.cli.main import app
from journeys.customers import imports as customer_import
from journeys.customers.profiles import ProfileError, identify
from journeys.store import Store
from journeys.store.tables import Customer, Delivery


@pytest.fixture
def store(each_database_store: Store) -> Store:
    """Each test on SQLite, then on PostgreSQL: the same code must give the same answers."""
    return each_database_store


REPO = Path(__file__).resolve().parents[2]
AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

# ------------------------------------------------------------------------------ identify


def test_identify_logs_each_consent_change_once_with_its_source(store: Store) -> None:
    profile = {"email": "ana@example.com", "consent": {"email": True, "sms": False}}

    identify(store, "ana", profile, source="app", at=AT)
    identify(store, "ana", {**profile, "locale": "fr"}, source="app")  # consent unchanged
    identify(store, "ana", {"consent": {"email": False}}, source="preference-center")

    changes = [(c.channel, c.granted, c.source) for c in store.consent.changes("ana")]
    # sms: False where nothing was stored is no change (absent = not granted)
    assert changes == [("email", True, "app"), ("email", False, "preference-center")]
    assert store.consent.changes("ana")[0].created_at == AT
    customer = store.customers.get("ana")
    assert customer is not None
    assert customer["consent"] == {"email": False, "sms": False, "push": False}
    assert customer["locale"] == "fr"


def test_identify_sorts_columns_from_attributes(store: Store) -> None:
    identify(store, "ben", {"attributes": {"points": 10, "tier": "silver"}}, source="app")

    customer = identify(
        store,
        "ben",
        {
            "id": "ben",
            "time_zone": "Asia/Tokyo",
            "birthday": "1990-03-05",
            "first_name": "Ben",  # any other key is an attribute
            "attributes": {"tier": "gold"},  # merged key by key
        },
        source="app",
    )

    assert customer["time_zone"] == "Asia/Tokyo"
    assert (customer["first_name"], customer["points"], customer["tier"]) == ("Ben", 10, "gold")
    row = store.customers.row("ben")
    assert row is not None
    assert row.attributes == {"points": 10, "tier": "gold", "first_name": "Ben"}
    assert (row.birthday, row.birth_month, row.birth_day) == (date(1990, 3, 5), 3, 5)


@pytest.mark.parametrize(
    ("profile", "field", "message"),
    [
        (
            {"time_zone": "Europe/Pari"},
            "time_zone",
            "'Europe/Pari' is not an IANA time zone (e.g. Europe/Paris)",
        ),
        ({"birthday": "1990-13-01"}, "birthday", "'1990-13-01' is not a date: write YYYY-MM-DD"),
        ({"id": "someone-else"}, "id", "'someone-else' is not the customer's id 'ana'"),
        (
            {"attributes": {"email": "x@example.com"}},
            "attributes.email",
            "'email' is a profile field: set it beside attributes, not inside",
        ),
    ],
)
def test_a_bad_value_names_its_field_and_changes_nothing(
    store: Store,
    profile: dict[str, object],
    field: str,
    message: str,
) -> None:
    identify(store, "ana", {"email": "ana@example.com", "consent": {"email": True}}, source="app")
    before = store.customers.row("ana")

    change = {"consent": {"email": False, "sms": True}, "city": "Lyon", **profile}
    with pytest.raises(ProfileError) as raised:
        identify(store, "ana", change, source="app")

    assert (raised.value.field, raised.value.message) == (field, message)
    assert str(raised.value) == f"{field}: {message}"
    assert store.customers.row("ana") == before
    assert len(store.consent.changes("ana")) == 1


def test_identify_many_is_one_transaction_and_counts_the_created(store: Store) -> None:
    identify(store, "ana", {"consent": {"email": True}}, source="app")

    created = store.customers.identify_many(
        [
            ("ana", {"consent": {"sms": True}}, {}),
            ("ben", {"locale": "fr", "consent": {"email": True}}, {"first_name": "Ben"}),
        ],
        source="import:a.csv",
    )

    assert created == 1
    assert [(c.channel, c.source) for c in store.consent.changes("ana")] == [
        ("email", "app"),
        ("sms", "import:a.csv"),
    ]
    assert [(c.channel, c.granted) for c in store.consent.changes("ben")] == [("email", True)]

    with pytest.raises(ValueError, match="customer 'dan': 'Mars/Olympus' is not an IANA"):
        store.customers.identify_many(
            [("chloe", {"locale": "fr"}, {}), ("dan", {"time_zone": "Mars/Olympus"}, {})],
            source="import:b.csv",
        )
    assert store.customers.row("chloe") is None  # the whole batch is undone


# -------------------------------------------------------------------- journeys customers

HEADER = "id,email,locale,time_zone,birthday,consent_email,consent_sms,first_name\n"
GOOD = (
    HEADER
    + "ana,ana@example.com,fr,Europe/Paris,1990-03-05,true,no,Ana\n"
    + "ben,ben@example.com,en,America/Los_Angeles,,yes,,Ben\n"
    + "emi,emi@example.jp,en,Asia/Tokyo,1988-04-01,0,1,\n"
)


def customers(*args: str) -> Result:
    return CliRunner().invoke(app, ["customers", *args])


def count(db: Store) -> int:
    with Session(db.engine) as session:
        return session.exec(select(func.count()).select_from(Customer)).one()


def test_import_a_csv_then_show_a_customer(data: Store) -> None:
    Path("customers.csv").write_text(GOOD, encoding="utf-8")

    result = customers("import", "customers.csv")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 3 customers (3 created, 0 updated) from customers.csv"
    )
    shown = customers("show", "ana")
    assert shown.exit_code == 0, shown.output
    for field, value in [
        ("email", "ana@example.com"),
        ("locale", "fr"),
        ("time_zone", "Europe/Paris"),
        ("birthday", "1990-03-05"),
        ("first_name", "Ana"),
    ]:
        assert re.search(rf"│ {field}\s+│ {re.escape(value)}\s+│", shown.output), shown.output
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.search(rf"│ email\s+│ yes\s+│ {when}\s+│ import:customers.csv\s+│", shown.output)
    assert re.search(r"│ sms\s+│ no\s+│ never recorded\s+│", shown.output), shown.output

    report = json.loads(customers("show", "emi", "--json").output)
    assert report["profile"]["time_zone"] == "Asia/Tokyo"
    assert report["consent"]["sms"]["granted"] is True
    assert report["consent"]["sms"]["source"] == "import:customers.csv"
    assert report["consent"]["email"] == {"granted": False, "changed_at": None, "source": None}
    assert report["attributes"] == {}  # an empty cell sets nothing
    assert report["deliveries"] == []


def test_show_lists_the_last_ten_deliveries_newest_first(data: Store) -> None:
    identify(data, "ana", {"email": "ana@example.com"}, source="app")
    for number in range(12):
        data.ledger.record(
            Delivery(
                delivery_key=f"k{number}",
                channel="email",
                status="sent",
                customer_id="ana",
                scenario_id="abandoned-cart",
                step_id=f"step-{number}",
            )
        )

    report = json.loads(customers("show", "ana", "--json").output)

    assert [d["step_id"] for d in report["deliveries"]] == [f"step-{n}" for n in range(11, 1, -1)]
    assert "abandoned-cart / step-11" in customers("show", "ana").output


def test_show_an_unknown_customer_fails(data: Store) -> None:
    result = customers("show", "nobody")

    assert result.exit_code == 1
    assert result.output.strip() == "error: no customer 'nobody'"


def test_import_json_lines_with_nested_consent_and_typed_attributes(data: Store) -> None:
    Path("customers.jsonl").write_text(
        '{"id": "ana", "email": "ana@example.com", "consent": {"email": true, "sms": "yes"},'
        ' "attributes": {"points": 120, "vip": true}}\n'
        "\n"  # blank lines are skipped
        '{"id": 42, "consent_push": true, "locale": "fr", "nickname": null, "city": "Lyon"}\n',
        encoding="utf-8",
    )

    result = customers("import", "customers.jsonl")

    assert result.exit_code == 0, result.output
    assert "imported 2 customers (2 created, 0 updated) from customers.jsonl" in result.output
    ana = data.customers.row("ana")
    assert ana is not None and ana.attributes == {"points": 120, "vip": True}
    assert ana.consent == {"email": True, "sms": True}
    other = data.customers.row("42")
    assert other is not None and other.attributes == {"city": "Lyon"}  # null: not set
    assert [(c.channel, c.source) for c in data.consent.changes("42")] == [
        ("push", "import:customers.jsonl")
    ]


BAD = (
    HEADER
    + "chloe,chloe@example.com,fr,Europe/Paris,1999-02-28,true,,Chloé\n"
    + 'dan,dan@example.com,en,UTC,,true,,"Dan\nthe second line of one cell"\n'  # lines 3-4
    + "eve,eve@example.com,fr,Europe/Pari,,maybe,,Eve\n"  # line 5
    + "chloe,other@example.com,fr,,,,,\n"  # line 6
    + "fay,fay.example.com,en,UTC,2999-01-01,,,Fay\n"  # line 7
    + "ana,ana@new.example.com,fr,,,false,,\n"  # a good row that would change ana
)
BAD_PROBLEMS = [
    "customers.csv:5: time_zone: 'Europe/Pari' is not an IANA time zone (e.g. Europe/Paris)",
    "customers.csv:5: consent_email: 'maybe' is not true or false "
    "(write true/false, yes/no or 1/0)",
    "customers.csv:6: id: 'chloe' is already on line 2",
    "customers.csv:7: email: 'fay.example.com' is not an email address",
    "customers.csv:7: birthday: 2999-01-01 is in the future",
]


def test_one_bad_row_imports_nothing_and_lists_every_problem(data: Store) -> None:
    Path("customers.csv").write_text(GOOD, encoding="utf-8")
    assert customers("import", "customers.csv").exit_code == 0
    before = (count(data), data.customers.row("ana"), data.consent.changes("ana"))
    Path("customers.csv").write_text(BAD, encoding="utf-8")

    result = customers("import", "customers.csv")

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert [line for line in lines if line.startswith("customers.csv:")] == BAD_PROBLEMS
    assert lines[-1] == (
        "3 invalid row(s) in customers.csv: nothing imported "
        "(fix them, or pass --skip-invalid to import the other rows)"
    )
    assert (count(data), data.customers.row("ana"), data.consent.changes("ana")) == before


def test_skip_invalid_imports_the_good_rows_and_still_fails(data: Store) -> None:
    Path("customers.csv").write_text(BAD, encoding="utf-8")

    result = customers("import", "customers.csv", "--skip-invalid")

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert [line for line in lines if line.startswith("customers.csv:")] == BAD_PROBLEMS
    assert "3 invalid row(s) skipped" in lines
    assert lines[-1] == "imported 3 customers (3 created, 0 updated) from customers.csv"
    assert {c.id for c in _all(data)} == {"chloe", "dan", "ana"}
    chloe = data.customers.row("chloe")
    assert chloe is not None and chloe.email == "chloe@example.com"  # the first row is kept
    dan = data.customers.row("dan")
    assert dan is not None and dan.attributes == {"first_name": "Dan\nthe second line of one cell"}


def test_importing_the_same_file_again_updates_without_duplicates(data: Store) -> None:
    Path("customers.csv").write_text(GOOD, encoding="utf-8")
    assert customers("import", "customers.csv").exit_code == 0
    logged = len(data.consent.changes("ana"))

    again = customers("import", "customers.csv")

    assert again.exit_code == 0, again.output
    assert "imported 3 customers (0 created, 3 updated) from customers.csv" in again.output
    assert count(data) == 3
    assert len(data.consent.changes("ana")) == logged  # nothing changed, nothing logged

    Path("customers.csv").write_text(
        GOOD.replace("ana@example.com,fr,Europe/Paris,1990-03-05,true", "ana@new.fr,fr,,,false")
    )
    assert customers("import", "customers.csv").exit_code == 0
    ana = data.customers.row("ana")
    assert ana is not None and (ana.email, ana.time_zone) == ("ana@new.fr", "Europe/Paris")
    assert [(c.granted, c.source) for c in data.consent.changes("ana")][-1] == (
        False,
        "import:customers.csv",
    )


def test_a_file_without_an_id_column_is_refused(data: Store) -> None:
    Path("people.csv").write_text("id;email\nana;ana@example.com\n", encoding="utf-8")

    result = customers("import", "people.csv")

    assert result.exit_code == 1
    assert result.output.startswith("error: people.csv:1: no 'id' column: the first line")
    assert count(data) == 0


def test_rows_are_written_in_batches(data: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(customer_import, "BATCH_SIZE", 2)
    path = Path("customers.csv")
    path.write_text(HEADER + "".join(f"c{n},,,,,true,,\n" for n in range(5)), encoding="utf-8")
    checked = customer_import.check_file(path)
    batches: list[int] = []

    assert customer_import.write_file(path, data, checked, on_batch=batches.append) == (5, 5)
    assert batches == [2, 2, 1]


def test_the_example_file_imports_cleanly(data: Store) -> None:
    result = customers("import", str(REPO / "examples" / "customers.csv"))

    assert result.exit_code == 0, result.output
    assert "imported 8 customers (8 created, 0 updated)" in result.output
    rows = _all(data)
    assert {r.time_zone for r in rows} == {"Europe/Paris", "America/Los_Angeles", "Asia/Tokyo"}
    assert {r.locale for r in rows} == {"fr", "en"}
    assert all(r.birthday and r.birthday < date.today() - timedelta(days=365) for r in rows)
    assert all(r.attributes.get("first_name") for r in rows)
    assert any(change.granted for r in rows for change in data.consent.changes(r.id))


def _all(db: Store) -> list[Customer]:
    with Session(db.engine) as session:
        return list(session.exec(select(Customer)).all())
