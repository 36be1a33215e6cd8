"""Verifying that a provider webhook really comes from the provider.

Pure functions, no HTTP framework: the routers in ``journeys.api.provider_events`` call them
with the raw request.

* **Twilio** (``X-Twilio-Signature``): base64 of HMAC-SHA1, keyed with the account's auth
  token, over the full URL Twilio requested (query included) followed by every POST
  parameter as ``name + value``, names sorted (a repeated name: its values sorted). Like
  Twilio's own helper libraries, the URL is tried with and without its port, since a
  proxy may add or drop ``:443``.
* **SendGrid** signed event webhook (``X-Twilio-Email-Event-Webhook-Signature`` and
  ``-Timestamp``): an ECDSA P-256 / SHA-256 signature (base64 DER) over the timestamp
  header followed by the raw body, checked with the public key from SendGrid's settings
  (base64 DER as SendGrid shows it, or PEM). The timestamp (Unix seconds) is signed, so
  ``timestamp_is_fresh`` can bound replays: a batch captured once and posted again later
  carries its old timestamp, and changing it breaks the signature.

Signatures are compared in constant time (``hmac.compare_digest``; ECDSA verification
does not leak the expected value).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

__all__ = [
    "load_sendgrid_public_key",
    "timestamp_is_fresh",
    "twilio_signature",
    "twilio_url_variants",
    "verify_sendgrid",
    "verify_twilio",
]


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The ``X-Twilio-Signature`` Twilio computes for a POST of ``params`` to ``url``."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def twilio_url_variants(url: str) -> list[str]:
    """``url`` as given, without its port, and with the scheme's default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    default = {"https": 443, "http": 80}.get(parts.scheme)
    variants = [url, urlunsplit(parts._replace(netloc=prefix + host))]
    if parts.port is None and default is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
    return list(dict.fromkeys(variants))


def verify_twilio(
    auth_token: str,
    signature: str | None,
    urls: Iterable[str],
    params: Sequence[tuple[str, str]],
) -> bool:
    """True when ``signature`` is Twilio's for ``params`` posted to one of ``urls``.

    ``urls`` are the addresses the request may have been made to (as received, and as
    configured publicly when a proxy sits in front); each is tried with its port variants.
    """
    if not auth_token or not signature:
        return False
    given = signature.strip().encode("ascii", errors="replace")
    matched = False
    for url in urls:
        for variant in twilio_url_variants(url):
            expected = twilio_signature(auth_token, variant, params).encode("ascii")
            matched |= hmac.compare_digest(expected, given)
    return matched


def load_sendgrid_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key from SendGrid's settings page (base64 DER), or a PEM block.

    Raises ``ValueError`` naming what is wrong: the key is checked when the app starts,
    not on the first webhook.
    """
    text = text.strip()
    try:
        if "-----BEGIN" in text:
            key = load_pem_public_key(text.encode("ascii"))
        else:
            key = load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm) as err:
        raise ValueError(f"not a public key in base64 DER or PEM form ({err})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 public key (SendGrid signs with P-256)")
    return key


def verify_sendgrid(
    public_key: ec.EllipticCurvePublicKey,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
) -> bool:
    """True when ``signature`` is SendGrid's ECDSA signature of ``timestamp + body``."""
    if not signature or not timestamp:
        return False
    try:
        decoded = base64.b64decode(signature.strip(), validate=True)
        public_key.verify(decoded, timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def timestamp_is_fresh(timestamp: str | None, max_age: float, now: float) -> bool:
    """True when ``timestamp`` (Unix seconds, as SendGrid sends it) is within ``max_age``
    seconds of ``now``, before or after (clocks drift both ways)."""
    text = (timestamp or "").strip()
    if not text.isdigit() or len(text) > 12:
        return False
    return abs(now - int(text)) <= max_age
