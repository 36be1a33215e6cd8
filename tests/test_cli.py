"""The ``journeys`` command as a user runs it: real processes, real servers, real files.

Every command runs as a subprocess of the installed console script, from the repository
root, isolated by environment variables (its own data folder, free ports, its own task
queue). Tests are ``async`` and use ``asyncio`` subprocesses so the session event loop keeps
running: the in-process worker of the session server answers while a command talks to it.
Output is a pipe, so the console is 140 columns wide and uncoloured; assertions read
table rows, not whole screens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys.driver import JourneyDriver
from journeys.settings import Settings
from tests.props import CART_PROPS

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path("tests/fixtures")  # relative to the repository root, as a user types it
CART = "abandoned-cart"


def _journeys_script() -> str:
    beside_python = Path(sys.executable).with_name("journeys")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("journeys")
    assert found, "the journeys console script is not installed (pip install -e .)"
    return found


JOURNEYS = _journeys_script()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """The user's environment without any Journeys/Temporal setting of theirs, plus ours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("JOURNEYS_", "TEMPORAL_"))
        and key not in ("FORCE_COLOR", "COLUMNS")  # keep the plain 140-column pipe output
    }
    env["JOURNEYS_DATA_DIR"] = str(data_dir)
    env["JOURNEYS_EMBEDDED_PORT"] = str(free_port())
    env["JOURNEYS_EMBEDDED_UI_PORT"] = str(free_port())
    env["JOURNEYS_TASK_QUEUE"] = "journeys-cli"
    env.update(extra)
    return env


class Cli:
    """One ``journeys`` process; its output is read as it comes (a full pipe would stall it).

    It runs in its own process group, so a test that fails half-way can stop it together
    with the Temporal server it may have started.
    """

    def __init__(self, args: tuple[str, ...], process: asyncio.subprocess.Process) -> None:
        self.args = args
        self.process = process
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._readers = [
            asyncio.create_task(self._read(process.stdout, self.lines)),
            asyncio.create_task(self._read(process.stderr, self.errors)),
        ]

    @classmethod
    async def start(cls, *args: str, env: dict[str, str]) -> Cli:
        # A shell gives its foreground commands Ctrl-C; if this test process was started
        # with SIGINT ignored (nohup, a background job), the child would inherit that.
        ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        if ignored:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            process = await asyncio.create_subprocess_exec(
                JOURNEYS,
                *args,
                cwd=REPO,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        finally:
            if ignored:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
        return cls(args, process)

    @staticmethod
    async def _read(stream: asyncio.StreamReader | None, into: list[str]) -> None:
        assert stream is not None
        async for line in stream:
            into.append(line.decode("utf-8", errors="replace"))

    @property
    def stdout(self) -> str:
        return "".join(self.lines)

    def describe(self) -> str:
        return (
            f"journeys {' '.join(self.args)}\n--- stdout\n{self.stdout}"
            f"--- stderr\n{''.join(self.errors)[-4000:]}"
        )

    async def wait_for_output(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stdout:
            if self.process.returncode is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"never printed {text!r}\n{self.describe()}")
            await asyncio.sleep(0.05)

    async def finish(self, timeout: float) -> int:
        """Waits for the exit and for the pipes to close: a child left running holds them."""
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
            await asyncio.wait_for(asyncio.gather(*self._readers), 10)
        except TimeoutError:
            self.kill()
            raise AssertionError(
                f"did not finish within {timeout}s, or left a process behind\n{self.describe()}"
            ) from None
        assert self.process.returncode is not None
        return self.process.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


async def run(*args: str, env: dict[str, str], timeout: float = 30) -> tuple[int, str]:
    """Runs one command to its end; returns exit code and stdout (stderr is in failures)."""
    cli = await Cli.start(*args, env=env)
    try:
        code = await cli.finish(timeout)
    except BaseException:
        cli.kill()
        raise
    return code, cli.stdout


def rows(output: str, columns: int) -> list[list[str]]:
    """First lines of the rows of every rich table with ``columns`` columns in ``output``."""
    found = []
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if len(cells) == columns and cells[0]:  # continuation lines leave the first cell empty
            found.append(cells)
    return found


JOURNEY_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d|\+\d+d \d\dh\d\d")  # date, or offset


def sent(output: str) -> list[tuple[str, str, str]]:
    """(journey time, customer, step) of each row of the outbox table (not the status one)."""
    return [
        (time_, customer, step.split(" / ")[-1])
        for time_, customer, step, *_ in rows(output, 6)
        if JOURNEY_TIME.fullmatch(time_)
    ]


async def poll(check: Callable[[], Awaitable[str]], timeout: float) -> str:
    """Repeats a command until its check passes: visibility is eventually consistent."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


# ---------------------------------------------------------------------------------- validate


async def test_validate_accepts_the_shipped_scenarios(tmp_path: Path) -> None:
    code, out = await run("validate", env=environment(tmp_path))

    assert code == 0, out
    assert "2 scenario(s) OK: abandoned-cart, vip-invite" in out


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


async def test_demo_renders_seven_messages_that_outbox_lists_again(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")

    code, out = await run("demo", env=env, timeout=90)

    assert code == 0, out
    assert re.search(r"^7 messages rendered in [\d.]+s of wall time", out, re.M), out
    demo_sent = {(customer.split("-")[0], step) for _, customer, step in sent(out)}
    assert demo_sent == {
        ("ana", "reminder"),
        ("ana", "sms-nudge"),
        ("ana", "last-chance"),
        ("chloé", "invite"),
        ("chloé", "confirmation"),
        ("dan", "invite"),
        ("dan", "rsvp-reminder"),
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


async def test_simulate_a_cart_left_alone(tmp_path: Path) -> None:
    code, out = await run(
        "simulate",
        CART,
        "--customer",
        str(FIXTURES / "ana.yaml"),
        "--events",
        str(FIXTURES / "cart_then_nothing.yaml"),
        env=environment(tmp_path),
        timeout=60,
    )

    assert code == 0, out
    assert "abandoned-cart for ana: completed" in out
    timeline = [(at, step) for at, step, _ in rows(out, 3)]
    assert timeline[0] == ("+0d 00h00", "event")
    for moment in (
        ("+0d 01h00", "reminder"),
        ("+1d 00h00", "wait-for-order"),  # no order within 23h
        ("+1d 00h00", "sms-nudge"),
        ("+3d 00h00", "last-chance"),
    ):
        assert moment in timeline, out
    assert timeline[-1] == ("+3d 00h00", "end")
    assert sent(out) == [
        ("+0d 01h00", "ana", "reminder"),
        ("+1d 00h00", "ana", "sms-nudge"),
        ("+3d 00h00", "ana", "last-chance"),
    ]
    assert "Votre panier vous attend" in out  # the profile's locale: fr
    assert "129,90 €" in out


async def test_simulate_an_order_before_the_first_reminder(tmp_path: Path) -> None:
    code, out = await run(
        "simulate",
        CART,
        "--customer",
        str(FIXTURES / "ana.yaml"),
        "--events",
        str(FIXTURES / "cart_then_order.yaml"),
        env=environment(tmp_path),
        timeout=60,
    )

    assert code == 0, out
    assert "abandoned-cart for ana: exited" in out
    assert ["+0d 00h30", "end", "exit on order.completed"] in rows(out, 3)
    assert "no message would be sent" in out
    assert sent(out) == []


@pytest.mark.parametrize(
    ("customer_text", "events_text", "message"),
    [
        pytest.param(
            None,
            None,
            "error: tests/fixtures/bad_events.yaml: event 1 has unknown keys ['when']",
            id="unknown-event-key",
        ),
        pytest.param(
            "id: x\nemial: x@example.com\n",
            None,
            "error: {customer}: unknown customer field(s) ['emial']; known: id, attributes,",
            id="unknown-customer-field",
        ),
        pytest.param(
            None,
            "- at: 0m\n  name: [cart.updated\n",
            "error: {events}:3: not valid YAML (expected ',' or ']', but got '<stream end>')",
            id="broken-yaml",
        ),
        pytest.param(
            None,
            "- at: 1 hour\n  name: cart.updated\n",
            "error: {events}: event 1: '1 hour' is not a duration",
            id="bad-duration",
        ),
    ],
)
async def test_simulate_rejects_a_bad_input_file_by_name(
    tmp_path: Path, customer_text: str | None, events_text: str | None, message: str
) -> None:
    customer, events = FIXTURES / "ana.yaml", FIXTURES / "bad_events.yaml"
    if customer_text is not None:
        customer = tmp_path / "customer.yaml"
        customer.write_text(customer_text, encoding="utf-8")
    if events_text is not None:
        events = tmp_path / "events.yaml"
        events.write_text(events_text, encoding="utf-8")

    code, out = await run(
        "simulate",
        CART,
        "--customer",
        str(customer),
        "--events",
        str(events),
        env=environment(tmp_path / "data"),
    )

    assert code == 1, out
    assert out.startswith(message.format(customer=customer, events=events)), out
    assert "Traceback" not in out
