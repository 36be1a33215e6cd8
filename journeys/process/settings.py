"""Process settings, read from the environment so operators never edit a file to deploy.

Every field can be set as ``JOURNEYS_<FIELD>``; the Temporal connection also honours the
conventional ``TEMPORAL_ADDRESS`` / ``TEMPORAL_NAMESPACE`` / ``TEMPORAL_API_KEY`` names used by
Temporal's own tools, so one environment serves both.

Nothing secret shows in ``repr(settings)`` or in an error about a setting: the Temporal API
key is a ``SecretStr``, the store URL is left out of the repr and shown with its password
masked (``store_url_shown``, ``journeys.process.redact``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from journeys.process.redact import MASK, redact


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_", extra="ignore")

    data_dir: Path = Path(".journeys")
    scenarios_dir: Path = Path("scenarios")
    templates_dir: Path = Path("templates")
    loyalty_file: Path = Path("loyalty.yaml")  # points, expiry, tiers (journeys.loyalty.program)
    database_url: str | None = Field(default=None, repr=False)  # may hold a password
    task_queue: str = "journeys"

    temporal_address: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_ADDRESS", "JOURNEYS_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "JOURNEYS_TEMPORAL_NAMESPACE"),
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_API_KEY", "JOURNEYS_TEMPORAL_API_KEY")
    )
    # None lets the SDK decide: TLS on when an API key is given (Temporal Cloud), else off.
    temporal_tls: bool | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_TLS", "JOURNEYS_TEMPORAL_TLS")
    )

    # Embedded server (used when no TEMPORAL_ADDRESS is set).
    embedded_port: int = 7233
    embedded_ui_port: int = 8233

    # Prometheus: the Temporal SDK's metrics (host:port to serve them on), and the
    # worker's own when it runs alone (`python worker.py`; the API serves them at /metrics).
    temporal_metrics_address: str | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # The HTTP API (unsubscribe links, provider webhooks): `journeys up` and `journeys api`.
    # Loopback by default: put a TLS-terminating proxy in front, or set 0.0.0.0 on purpose.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    # Request bodies past these get a 413 before anything reads them whole
    # (journeys.api.body_limit): batches (POST /v1/events/batch, SendGrid's event webhook)
    # and every other endpoint.
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    api_max_batch_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # One event as its journeys receive it (its JSON): Temporal refuses payloads over 2 MiB
    # (the server's limit.blobSize.error), and a journey carries its waiting events along.
    max_event_bytes: int = Field(default=64 * 1024, ge=1024)

    @property
    def store_url(self) -> str:
        """The customer/outbox store; SQLite under the data folder unless a URL is given."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'journeys.db').resolve()}"

    @property
    def store_url_shown(self) -> str:
        """The store URL for logs and messages: its password, if any, masked."""
        return redact(self.store_url)


# Fields whose value is never echoed back in an error, even masked by ``redact``.
SECRET_FIELDS = frozenset(
    {"temporal_api_key", "database_url", "secret_key", "previous_secret_keys"}
)


class SettingsError(ValueError):
    """A setting from the environment that cannot be used, named by its variable."""


def describe(err: ValidationError, prefix: str = "JOURNEYS_") -> str:
    """One plain ``VARIABLE=value: problem`` per bad variable (secret values masked)."""
    lines = []
    for error in err.errors(include_url=False):
        field = str(error["loc"][0]).upper() if error["loc"] else "SETTING"
        name = field if field.startswith(("TEMPORAL_", prefix)) else f"{prefix}{field}"
        secret = field.lower().removeprefix(prefix.lower()) in SECRET_FIELDS
        shown = MASK if secret else redact(repr(error.get("input")))
        lines.append(f"{name}={shown}: {error['msg']}")
    return "; ".join(lines)


def load_settings() -> Settings:
    """Settings from the environment, with one plain line per bad variable instead of a trace."""
    try:
        settings = Settings()
    except ValidationError as err:
        raise SettingsError(describe(err)) from None
    try:
        make_url(settings.store_url)
    except (ArgumentError, ValueError) as err:
        # Not echoed: where the password sits in a string that does not parse is unknown.
        raise SettingsError(
            "JOURNEYS_DATABASE_URL is not a database URL (expected e.g. "
            f"postgresql+psycopg://user:password@host:5432/journeys): {redact(str(err))}"
        ) from None
    return settings
