"""Leaving a process with its own exit status, without finalizing the interpreter.

The Temporal SDK's native runtime can abort while Python finalizes after a clean run
("Fatal Python error: PyGILState_Release", exit 134; here about one run in twenty, more on
a loaded machine): a worker stopped cleanly by SIGTERM would look crashed to its
supervisor, and a ``send-event`` that did route its event would look failed to a script,
which might send it again. Once the work has returned and its output is flushed, nothing
is left to tear down, so the process exits at once.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn


def leave(status: int) -> NoReturn:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
