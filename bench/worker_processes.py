"""What the benches that run real ``python worker.py`` processes share: the customers
they route to, and the environment one worker process gets (a bench's own server, queue,
store and scenario folder; outbox channels, so nothing leaves the machine)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import insert

from journeys.store import Store
from journeys.store.tables import Customer

REPO = Path(__file__).resolve().parent.parent
BATCH = 10_000  # rows per INSERT: PostgreSQL's bind-parameter limit stays far away


def add_customers(store: Store, ids: list[str]) -> None:
    """Customers written in bulk (the bench measures journeys, not ``identify``)."""
    rows = [
        {"id": c, "email": f"{c}@example.com", "locale": "en", "time_zone": "UTC",
         "consent": {"email": True}, "attributes": {"first_name": "Ana"}}
        for c in ids
    ]  # fmt: skip
    with store.engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            connection.execute(insert(Customer), rows[start : start + BATCH])


def worker_env(server: str, folder: Path, store_url: str, queue: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "TEMPORAL_"))}
    env.update(
        TEMPORAL_ADDRESS=server,
        JOURNEYS_TASK_QUEUE=queue,
        JOURNEYS_DATABASE_URL=store_url,
        JOURNEYS_DATA_DIR=str(folder),
        JOURNEYS_SCENARIOS_DIR=str(folder / "scenarios"),
        JOURNEYS_TEMPLATES_DIR=str(REPO / "templates"),
        JOURNEYS_EMAIL_PROVIDER="outbox",
        JOURNEYS_SMS_PROVIDER="outbox",
        JOURNEYS_PUSH_PROVIDER="outbox",
    )
    return env


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (and its waited-for children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICKS  # utime stime cutime cstime


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICKS  # minus idle and iowait


def server_pid() -> int:
    """The embedded Temporal server: the child of this process running ``temporal``."""
    me = os.getpid()
    for task in Path(f"/proc/{me}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"temporal" in Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0]:
                return int(child)
    raise LookupError("no temporal server child process")
