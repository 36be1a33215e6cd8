"""Running the ``journeys`` console script as a user does: a subprocess, isolated by env."""

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


async def start_worker(
    env: dict[str, str], *, output: bool = False
) -> asyncio.subprocess.Process:
    """``python worker.py`` as an operator runs it; ``output``: its log on ``stdout``."""
    piped = asyncio.subprocess.PIPE if output else asyncio.subprocess.DEVNULL
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "worker.py",
        cwd=REPO,
        env=env,
        stdout=piped,
        stderr=asyncio.subprocess.STDOUT if output else asyncio.subprocess.DEVNULL,
    )


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
    env["JOURNEYS_API_PORT"] = str(free_port())
    env["JOURNEYS_TASK_QUEUE"] = "journeys-cli"
    # Virtual time starts at the real time of day: without this an SMS step would be
    # deferred by quiet hours when the suite runs at night, and timelines would shift.
    env["JOURNEYS_QUIET_HOURS_SMS"] = env["JOURNEYS_QUIET_HOURS_PUSH"] = ""
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
