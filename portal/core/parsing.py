"""One bounded parser per kind of value that arrives from outside (query parameters, path parts, form
fields, spreadsheet cells): integer ids, page numbers, dates, decimals with a range, choices.

Each returns a clean value or None (for query parameters: "ignore it") or raises ``ValueError`` with a
Chinese-ready message (for forms: WTForms shows it on the field, and a service turns it into a
``ServiceError``). Nothing from outside reaches the database without passing through one of these, so a
hand-edited URL or a hostile form can never become an OverflowError, a decimal.InvalidOperation or a
database error (the HTTP 500 pages of the first security review).
"""
from __future__ import annotations

import unicodedata
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

#: The largest value of a database INTEGER column (PostgreSQL int4; SQLite takes more, we do not).
MAX_DB_INT = 2**31 - 1
#: Dates outside these years are refused: nobody enters them, and Python's datetime overflows near year 1 and 9999.
MIN_YEAR, MAX_YEAR = 1900, 2199


def parse_int(value, *, minimum: int = 0, maximum: int = MAX_DB_INT) -> int | None:
    """An integer written in ASCII digits (an optional leading minus when ``minimum`` < 0), within the range;
    None otherwise. ``'²'.isdigit()`` is true and ``int('²')`` fails, so only ASCII counts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value if value is not None else "").strip()
        digits = text[1:] if text[:1] == "-" else text
        if not digits or len(digits) > 12 or not (digits.isascii() and digits.isdigit()):
            return None
        number = int(text)
    return number if minimum <= number <= maximum else None


def parse_id(value) -> int | None:
    """A database id: 1 … 2³¹−1."""
    return parse_int(value, minimum=1)


def optional_id(value) -> int | None:
    """``coerce=`` of a select whose first choice "— none —" is 0: None for no choice, else a valid id.
    Anything else raises ValueError, which WTForms shows as an invalid choice (a 422, not a 500)."""
    if value in (None, "", "0", 0):
        return None
    number = parse_id(value)
    if number is None:
        raise ValueError(str(_l("Not a valid choice.")))
    return number


def parse_id_strict(value) -> int:
    """``coerce=`` of a multiple select of ids: a valid id, or ValueError (shown as an invalid choice)."""
    number = parse_id(value)
    if number is None:
        raise ValueError(str(_l("Not a valid choice.")))
    return number


def id_or_zero(value) -> int:
    """``coerce=`` of a select where 0 means "all" (e.g. an announcement to everyone)."""
    return optional_id(value) or 0


def parse_date(value) -> date | None:
    """A date as YYYY-MM-DD (full-width digits accepted), between the years 1900 and 2199; else None."""
    if isinstance(value, date):
        return value if MIN_YEAR <= value.year <= MAX_YEAR else None
    text = unicodedata.normalize("NFKC", str(value if value is not None else "")).strip()
    if len(text) != 10 or not text.isascii():
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if MIN_YEAR <= day.year <= MAX_YEAR else None


class NumberError(ValueError):
    """Why a decimal was refused: ``kind`` is "empty", "not_a_number", "places", "too_large" (beyond
    ``max_abs``) or "range" (outside [minimum, maximum])."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def parse_decimal(value, *, places: int, max_abs: Decimal, minimum: Decimal | None = None,
                  maximum: Decimal | None = None) -> Decimal:
    """A decimal from a form (full-width digits and spaces accepted) or from code (int, float, Decimal),
    with ``abs(value) < max_abs`` and within [minimum, maximum] when given. Text with more than ``places``
    decimals is refused (someone typed it); a number from code is rounded half up to ``places``.
    Raises NumberError; never InvalidOperation or OverflowError, whatever the input (1e999999, NaN, …)."""
    typed = isinstance(value, str)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise NumberError("empty")
    try:
        if isinstance(value, bool):
            raise NumberError("not_a_number")
        if isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, (int, Decimal)):
            number = Decimal(value)
        else:
            text = unicodedata.normalize("NFKC", str(value)).strip().replace(" ", "").replace(",", "")
            if len(text) > 64:
                raise NumberError("not_a_number")
            number = Decimal(text)
    except InvalidOperation:
        raise NumberError("not_a_number") from None
    if not number.is_finite():
        raise NumberError("not_a_number")
    if number != 0 and number.adjusted() >= len(str(int(max_abs))) + 1:  # far too large to quantize
        raise NumberError("too_large")
    step = Decimal(1).scaleb(-places)
    if typed and number.as_tuple().exponent < -places and number != number.quantize(step):
        raise NumberError("places")
    number = number.quantize(step, rounding=ROUND_HALF_UP)
    if abs(number) >= max_abs:
        raise NumberError("too_large")
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise NumberError("range")
    return number


def parse_choice(value, choices, default=None):
    """``value`` when it is one of ``choices``, else ``default``."""
    return value if value in choices else default
