"""The ``journeys`` command (typer + rich), one module per command group, the demo and the
tables a person reads. ``app`` is the typer application.

The top floor: it may import every part.
"""

from journeys.cli.main import app

__all__ = ["app"]
