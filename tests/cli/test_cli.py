"""The ``journeys`` command as a user runs it: real processes, real servers, real files.

Every command runs as a subprocess of the installed console script, from the repository
root, isolated by environment variables (its own data folder, free ports, its own task
queue). Tests are ``async`` and use ``asyncio`` subprocesses so the session event loop keeps
running: the in-process worker of the session server answers while a command talks to it.
Output is a pipe, so the console is 140 columns wide and uncoloured; assertions read
table rows, not whole screens.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from journeys.app.driver import JourneyDriver
from journeys.process.settings import Settings
from tests.cli_process import CART, Cli, environment, free_port, poll, run, sent
from tests.props import CART_PROPS


async def test_validate_accepts_the_shipped_scenarios(tmp_path: Path) -> None:
    code, out = await run("validate", env=environment(tmp_path))

    assert code == 0, out
    shipped = ", ".join(
        [
            "abandoned-cart",
            "birthday",
            "nps-survey",
            "points-expiry",
            "purchase-challenge",
            "referral",
            "subscription-renewal",
            "tenth-visit",
            "vip-invite",
            "vip-private-sale",
            "win-back",
        ]
    )
    assert f"11 scenario(s) OK: {shipped}" in " ".join(out.split())  # rich wraps long lines


async def test_validate_prints_each_problem_as_one_file_line_message(tmp_path: Path) -> None:
    scenario = tmp_path / "broken_wait.yaml"
    scenario.write_text(
        "id: broken-wait\n"
        "name: Broken wait\n"
        "category: marketing\n"
        "trigger: {event: cart.updated}\n"
        "steps:\n"
        "  - wait: 1 hour\n"  # line 6
        "  - send: {id: reminder, channel: email, template: abandoned_cart/reminder}\n",
        encoding="utf-8",
    )

    code, out = await run("validate", str(scenario), env=environment(tmp_path))

    assert code == 1, out
    assert (
        f"{scenario}:6: step 'wait-1': '1 hour' is not a duration: write a whole number and a "
        "unit (s, m, h, d or w), for example 30m, 1h, 2d or 1w"
    ) in out.splitlines()  # one whole line, however long: editors and CI parse it
    assert "1 problem(s)" in out


# ------------------------------------------------------------------------------ demo, outbox


async def test_demo_renders_eleven_messages_that_outbox_lists_again(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")

    code, out = await run("demo", env=env, timeout=90)

    assert code == 0, out
    assert re.search(r"^11 messages rendered in [\d.]+s of wall time", out, re.M), out
    demo_sent = {(customer.split("-")[0], step) for _, customer, step in sent(out)}
    assert demo_sent == {
        ("ana", "reminder"),
        ("ana", "sms-nudge"),
        ("ana", "last-chance"),
        ("chloé", "invite"),
        ("chloé", "confirmation"),
        ("dan", "invite"),
        ("dan", "rsvp-reminder"),
        ("eve", "greeting"),
        ("fay", "notice"),
        ("fay", "reminder"),
        ("fay", "last-day"),
    }  # Ben ordered within 30 minutes: nothing for him
    assert (tmp_path / "data" / "temporal.db").is_file()

    code, listed = await run("outbox", env=env)

    assert code == 0, listed
    assert sorted(sent(listed)) == sorted(sent(out))


async def test_outbox_on_a_new_data_folder_says_it_is_empty(tmp_path: Path) -> None:
    code, out = await run("outbox", env=environment(tmp_path / "new"))

    assert code == 0, out
    assert "the outbox is empty: run 'journeys demo' or send events" in out


# ------------------------------------------------------------- up, send-event, status, stop


async def _status_shows(env: dict[str, str], customer: str, *expected: str) -> str:
    async def check() -> str:
        code, out = await run("status", "--customer", customer, env=env)
        assert code == 0, out
        for text in expected:
            assert text in out, out
        return out

    return await poll(check, timeout=20)


async def _stop(up: Cli, signum: signal.Signals) -> None:
    up.process.send_signal(signum)
    code = await up.finish(timeout=30)
    assert code == 0, up.describe()
    assert "stopped" in up.stdout, up.describe()


async def test_up_runs_journeys_persists_them_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = environment(data)
    address = f"127.0.0.1:{env['JOURNEYS_EMBEDDED_PORT']}"
    up = await Cli.start("up", env=env)
    try:  # a failure stops 'up' and its Temporal server (one process group) before leaving
        await up.wait_for_output("Journeys is up", timeout=60)
        api = f"http://127.0.0.1:{env['JOURNEYS_API_PORT']}"
        assert f"API on {api}" in up.stdout
        async with httpx.AsyncClient() as http:  # the API is served beside the worker
            health = await http.get(f"{api}/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})

        code, out = await run(
            "send-event",
            "cart.updated",
            "--customer",
            "c1",
            "--prop",
            "cart_total=50",
            "--prop",
            "currency=EUR",
            "--prop",
            "item_count=1",
            "--prop",
            "cart_url=https://x",
            env={**env, "TEMPORAL_ADDRESS": address},
        )
        assert code == 0, out
        assert "started or signalled: abandoned-cart" in out

        out = await _status_shows(
            {**env, "TEMPORAL_ADDRESS": address}, "c1", "journey/abandoned-cart/c1", "running"
        )
        assert re.search(r"│ journey/abandoned-cart/c1 │ running\s+│ wait-1 ", out), out

        await _stop(up, signal.SIGINT)  # Ctrl-C
        assert (data / "temporal.db").is_file()

        # Started again on the same folder, the journey is still there, waiting.
        up = await Cli.start("up", env=env)
        await up.wait_for_output("Journeys is up", timeout=60)
        await _status_shows(env, "c1", "journey/abandoned-cart/c1", "running")  # embedded port

        await _stop(up, signal.SIGTERM)  # docker stop, systemd: stops the server too
    except BaseException:
        up.kill()
        raise


async def test_api_serves_alone_and_says_when_its_port_is_taken(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    port = env["JOURNEYS_API_PORT"]
    api = await Cli.start("api", env=env)
    try:
        await api.wait_for_output(f"Journeys API on http://127.0.0.1:{port}", timeout=30)
        async with httpx.AsyncClient() as http:
            health = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})

        code, out = await run("api", env=env)  # a second one on the same port
        assert code == 1, out
        assert out.startswith(f"error: the API cannot listen on 127.0.0.1:{port} "), out
        assert "JOURNEYS_API_PORT" in out and "Traceback" not in out

        await _stop(api, signal.SIGTERM)
    except BaseException:
        api.kill()
        raise


async def test_send_event_without_a_server_says_to_start_one(tmp_path: Path) -> None:
    closed = free_port()  # bound then released: nothing listens there

    code, out = await run(
        "send-event",
        "cart.updated",
        "--customer",
        "c1",
        "--prop",
        "cart_total=50",
        env=environment(tmp_path, TEMPORAL_ADDRESS=f"127.0.0.1:{closed}"),
    )

    assert code == 1, out
    assert out.startswith(f"error: no Temporal server answers at 127.0.0.1:{closed}: "), out
    assert "start one with 'journeys up' or set TEMPORAL_ADDRESS" in out
    assert "Traceback" not in out


async def test_send_event_and_status_against_a_running_cluster(
    temporal: WorkflowEnvironment, journeys: JourneyDriver, settings: Settings, tmp_path: Path
) -> None:
    """TEMPORAL_ADDRESS points the commands at a server someone else runs (the session's)."""
    env = environment(
        tmp_path,
        TEMPORAL_ADDRESS=temporal.client.service_client.config.target_host,
        JOURNEYS_TASK_QUEUE=settings.task_queue,
    )
    customer = journeys.customer(phone="+33600000099", consent={"email": True, "sms": True})
    props = [f"{key}={value}" for key, value in {"cart_total": 150, **CART_PROPS}.items()]

    code, out = await run(
        "send-event",
        "cart.updated",
        "--customer",
        customer,
        "--id",
        f"evt-{customer}",
        *[arg for prop in props for arg in ("--prop", prop)],
        env=env,
    )

    assert code == 0, out
    assert f"event evt-{customer} (cart.updated) for {customer}" in out
    assert "started or signalled: abandoned-cart" in out
    state = await journeys.finish(CART, customer)
    assert state.status == "completed"
    assert [e.id for e in state.events] == [f"evt-{customer}"]
    # The SMS nudge needs cart_total >= 100: "--prop cart_total=150" arrived as a number.
    assert journeys.sent(customer) == [
        ("reminder", "email"),
        ("sms-nudge", "sms"),
        ("last-chance", "email"),
    ]
    out = await _status_shows(env, customer, "completed")
    for message in ("reminder:email", "sms-nudge:sms", "last-chance:email"):
        assert message in out


# ---------------------------------------------------------------------------------- simulate
