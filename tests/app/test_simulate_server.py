"""``journeys simulate`` never leaves its private Temporal server running: not after a
result, not after an error, not when it is stopped with SIGTERM or SIGINT mid-run.

The command runs in its own session (``tests.cli_process``); the server it starts is a
child in that session, so after the command has exited, any process still in the session
is one it left behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from tests.cli_process import CART, FIXTURES, Cli, environment

SIMULATE = ("simulate", CART, "--customer", str(FIXTURES / "ana.yaml"), "--events")


def session_processes(session: int) -> list[str]:
    """Command lines of the live processes whose session id is ``session``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # it ended while we looked
        fields = stat.rsplit(")", 1)[1].split()  # state ppid pgrp session ...
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(command.strip() or f"[{entry.name}]")
    return found


async def left_behind(cli: Cli) -> list[str]:
    """What is still running in the command's session a moment after it exited."""
    deadline = time.monotonic() + 5
    while (alive := session_processes(cli.process.pid)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return alive


async def run_to_end(tmp_path: Path, events: Path) -> tuple[int, Cli]:
    cli = await Cli.start(*SIMULATE, str(events), env=environment(tmp_path))
    try:
        return await cli.finish(90), cli
    except BaseException:
        cli.kill()
        raise


async def test_a_finished_simulation_leaves_no_server(tmp_path: Path) -> None:
    code, cli = await run_to_end(tmp_path, FIXTURES / "cart_then_order.yaml")
    assert code == 0, cli.describe()
    assert "abandoned-cart for ana: exited" in cli.stdout
    assert await left_behind(cli) == []


async def test_a_failed_simulation_leaves_no_server(tmp_path: Path) -> None:
    # The error comes after the server started: no event in the list triggers the scenario.
    events = tmp_path / "events.yaml"
    events.write_text("- {at: 0m, name: order.completed, properties: {order_id: A-1}}\n")
    code, cli = await run_to_end(tmp_path, events)
    assert code == 1, cli.describe()
    assert "no event in the list triggers scenario 'abandoned-cart'" in cli.stdout
    assert await left_behind(cli) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_simulation_stopped_by_a_signal_stops_its_server(
    tmp_path: Path, signum: signal.Signals
) -> None:
    cli = await Cli.start(
        *SIMULATE, str(FIXTURES / "cart_then_nothing.yaml"), env=environment(tmp_path)
    )
    try:
        deadline = time.monotonic() + 30
        while not any("temporal" in p for p in session_processes(cli.process.pid)):
            assert time.monotonic() < deadline, cli.describe()
            await asyncio.sleep(0.02)
        # Only the command gets the signal (``kill PID``), not the server beside it.
        os.kill(cli.process.pid, signum)
        code = await cli.finish(60)
    except BaseException:
        cli.kill()
        raise
    assert code == 128 + signum, cli.describe()
    assert f"interrupted ({signum.name})" in cli.stdout
    assert await left_behind(cli) == []
