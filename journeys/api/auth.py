"""Bearer API keys for the ``/v1`` endpoints (``journeys api-keys create NAME``).

Unsubscribe links and provider webhooks do not use them: those carry their own signature.
A missing, malformed, unknown or revoked key gets the same 401, so a caller cannot probe
which keys exist.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from journeys.access_models import ApiKey
from journeys.api.state import ApiState, api_state


async def api_key(request: Request, state: Annotated[ApiState, Depends(api_state)]) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    row = None
    if scheme.lower() == "bearer" and key.strip():
        row = await asyncio.to_thread(state.store.verify_api_key, key.strip())
    if row is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API key is required: 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return row


Authorized = Annotated[ApiKey, Depends(api_key)]
