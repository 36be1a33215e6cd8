"""Coupon codes: generated ones (from a number, with sqids) and the rules imported ones meet.

A generated code encodes the coupon's row id with ``sqids`` over an alphabet of upper-case
letters and digits without the characters people confuse (``0 O 1 I L``), at least
``MIN_LENGTH`` long. The alphabet's order is shuffled with a random key kept in the
database, so consecutive ids give unrelated codes (``KX7MD2QP`` then ``R4WTNZ9A``): codes are
unique because ids are, short because sqids is, and not guessable in order without the key.
The key is the database's, not ``JOURNEYS_SECRET_KEY``: that key is rotated (that is what
``JOURNEYS_PREVIOUS_SECRET_KEYS`` is for), and a new alphabet could make a new id's code
equal an old one's. Sqids' block list keeps rude words out of codes.

Codes are compared in upper case (``normalize_code``): a customer typing ``kx7md2qp`` at
the checkout means ``KX7MD2QP``.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from sqids import Sqids

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
MIN_LENGTH = 8
# An imported code: what a till or a partner's system can print and a customer can type.
IMPORTED_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{3,63}$")
IMPORTED_RULE = "4-64 letters, digits, '-' or '_' (starting with a letter or digit)"


def shuffled_alphabet(key: bytes) -> str:
    """``ALPHABET`` in an order decided by ``key`` (Fisher-Yates over an HMAC stream)."""
    letters = list(ALPHABET)
    for index in range(len(letters) - 1, 0, -1):
        digest = hmac.new(key, index.to_bytes(2, "big"), hashlib.sha256).digest()
        other = int.from_bytes(digest[:8], "big") % (index + 1)
        letters[index], letters[other] = letters[other], letters[index]
    return "".join(letters)


class CouponCodes:
    """Codes for coupon numbers, under one database's key."""

    def __init__(self, key: bytes) -> None:
        self._sqids = Sqids(alphabet=shuffled_alphabet(key), min_length=MIN_LENGTH)

    def code(self, number: int, attempt: int = 0) -> str:
        """The code of coupon ``number``; ``attempt`` > 0 gives another one for the same
        number, for the rare generated code an imported pool already holds."""
        if number < 0 or attempt < 0:
            raise ValueError("coupon numbers and attempts are not negative")
        return self._sqids.encode([number] if attempt == 0 else [number, attempt])


def normalize_code(text: str) -> str:
    return text.strip().upper()


def imported_code_problem(code: str) -> str | None:
    """Why ``code`` (already normalized) cannot be imported, or None."""
    if not IMPORTED_CODE.match(code):
        return f"'{code[:80]}' is not a coupon code: {IMPORTED_RULE}"
    return None


POOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def read_code_lines(lines: list[str], file: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Codes of an import file, one per line or the first column of a CSV (a ``code``
    header is skipped), each with its ``file:line``; and every problem as ``file:line:
    sentence``: a bad code, or one already given on an earlier line."""
    codes: list[tuple[str, str]] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        cell = raw.split(",", 1)[0].strip().strip('"').strip()
        if not cell or (not codes and not problems and cell.lower() == "code"):
            continue
        code = normalize_code(cell)
        where = f"{file}:{number}"
        if problem := imported_code_problem(code):
            problems.append(f"{where}: {problem}")
        elif code in first_line:
            problems.append(f"{where}: '{code}' is also on line {first_line[code]}")
        else:
            first_line[code] = number
            codes.append((code, where))
    return codes, problems
