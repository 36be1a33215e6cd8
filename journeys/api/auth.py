"""Bearer API keys for the ``/v1`` endpoints (``journeys api-keys create NAME``).

Unsubscribe links and provider webhooks do not use them: those carry their own signature.
A missing, malformed, unknown or revoked key gets the same 401, so a caller cannot probe
which keys exist.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from journeys.api.state import ApiState, api_state
from journeys.store.access_tables import ApiKey

# Declares the scheme in the OpenAPI document; the check itself is ``api_key``.
BEARER = HTTPBearer(
    auto_error=False, description="An API key made by `journeys api-keys create NAME`"
)


async def api_key(
    state: Annotated[ApiState, Depends(api_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> ApiKey:
    key = credentials.credentials.strip() if credentials else ""
    row = None
    if key and key.isprintable():
        row = await asyncio.to_thread(state.store.access.verify_key, key)
    if row is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API key is required: 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return row


Authorized = Annotated[ApiKey, Depends(api_key)]
