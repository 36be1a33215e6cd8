"""The HTTP API (FastAPI): ``create_app`` builds it, ``serving`` runs it with uvicorn.

One router module per concern. It may import the parts under ``worker.py`` (``temporal``,
``customers``, ``store`` and below); never ``app`` beside it, nor ``activities``,
``workflows`` or ``worker.py``: an API process runs beside the workers, not inside one.
"""

from journeys.api.app import create_app
from journeys.api.serve import ApiUnavailable, serving, serving_api

__all__ = ["ApiUnavailable", "create_app", "serving", "serving_api"]
