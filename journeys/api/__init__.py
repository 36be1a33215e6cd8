"""The HTTP API (FastAPI): ``create_app`` builds it, ``serving`` runs it with uvicorn."""

from journeys.api.app import create_app
from journeys.api.serve import ApiUnavailable, serving, serving_api

__all__ = ["ApiUnavailable", "create_app", "serving", "serving_api"]
