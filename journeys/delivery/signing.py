"""The signature every signed link of ours uses: HMAC-SHA256 over a context and a payload.

Shared by the unsubscribe links (``journeys.delivery.unsubscribe``) and the survey answer
links (``journeys.delivery.surveys``). The context string separates them: a MAC made for
one kind of link can never pass as another, though both are keyed with
``JOURNEYS_SECRET_KEY``. Payloads and signatures are URL-safe base64 without padding, so a
token fits in a URL path as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def sign(key: bytes, context: bytes, payload: str) -> str:
    """The signature of ``payload`` (as transmitted) under ``context``.

    The MAC covers the payload exactly as transmitted, so only the canonical encoding of a
    payload verifies (no alternative base64 spellings of the same token).
    """
    digest = hmac.new(key, context + payload.encode("ascii"), hashlib.sha256).digest()
    return b64encode(digest)


def verifies(keys: Iterable[bytes], context: bytes, payload: str, signature: str) -> bool:
    """Whether any of ``keys`` made ``signature``; compared in constant time."""
    given = signature.encode("ascii")
    return any(hmac.compare_digest(sign(k, context, payload).encode("ascii"), given) for k in keys)


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
