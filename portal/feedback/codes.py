"""The secrets of feedback intake: kiosk URL signatures, one-time form tokens, and the 查询码.

* **Kiosk URL** ``/k/<code>/<sig>``: ``sig`` is 10 characters of base32 of an HMAC-SHA256 of the code under
  the service point's own ``qr_secret``. Nobody can make a URL for a point that does not exist, the URL of a
  point stays the same for as long as its key does (printed posters keep working), and rotating the key is
  what retires old posters.
* **Form token**: signed (itsdangerous, SECRET_KEY) ``{code, nonce}`` with the time it was issued. It proves
  the form came from this portal for this point; its nonce is the submission's idempotency key, so a double
  tap, a network retry or a replayed token stores one row.
* **查询码**: 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), about 40 bits, made by
  ``secrets``. Stored as an HMAC digest (to find it) and sealed with Fernet (to show it again), never as is.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timezone

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

QUERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
QUERY_LENGTH = 8
SIGNATURE_LENGTH = 10


def _derived_key(purpose: str) -> bytes:
    return hashlib.sha256(f"portal-feedback:{purpose}:".encode() + current_app.config["SECRET_KEY"].encode()).digest()


# -- kiosk URLs -------------------------------------------------------------------------------------------
def new_point_secret() -> str:
    return secrets.token_hex(32)


def kiosk_signature(secret: str, code: str) -> str:
    mac = hmac.new(secret.encode(), f"kiosk:{code}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode().lower()[:SIGNATURE_LENGTH]


def signature_matches(secret: str, code: str, sig: str) -> bool:
    return hmac.compare_digest(kiosk_signature(secret, code), (sig or "")[:40].lower())


# -- one-time form tokens ---------------------------------------------------------------------------------
def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="portal-kiosk-form")


def issue_form_token(code: str) -> str:
    return _serializer().dumps({"c": code, "n": secrets.token_urlsafe(12)})


class BadFormToken(ValueError):
    """Not a token this portal issued for this point (tampered, truncated, for another point)."""


def read_form_token(token: str, code: str, max_age_seconds: int) -> tuple[str, datetime, bool]:
    """(nonce, issued_at, stale) of a token issued for ``code``; ``stale`` when older than ``max_age_seconds``
    (kept, and flagged). Raises BadFormToken for anything not issued here for this point."""
    if not token or len(token) > 300:
        raise BadFormToken()
    serializer = _serializer()
    try:
        payload, issued = serializer.loads(token, max_age=max_age_seconds, return_timestamp=True)
        stale = False
    except SignatureExpired as exc:
        payload, issued, stale = exc.payload, exc.date_signed, True
        try:
            payload = serializer.load_payload(payload)
        except BadSignature:
            raise BadFormToken()
    except BadSignature:
        raise BadFormToken()
    if not isinstance(payload, dict) or payload.get("c") != code or not isinstance(payload.get("n"), str):
        raise BadFormToken()
    if issued is None:
        raise BadFormToken()
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=timezone.utc)
    return payload["n"][:40], issued, stale


# -- 查询码 -----------------------------------------------------------------------------------------------
def new_query_code() -> str:
    return "".join(secrets.choice(QUERY_ALPHABET) for _ in range(QUERY_LENGTH))


def normalize_query_code(text: str) -> str | None:
    """What a customer typed (any case, spaces or a hyphen in the middle, ０-９/Ａ-Ｚ from a Chinese
    keyboard) as a code, or None when it cannot be one."""
    if not text or len(text) > 40:
        return None
    import unicodedata

    cleaned = unicodedata.normalize("NFKC", text).upper().replace("-", "").replace(" ", "")
    if len(cleaned) != QUERY_LENGTH or any(ch not in QUERY_ALPHABET for ch in cleaned):
        return None
    return cleaned


def display_query_code(code: str) -> str:
    """ABCD-EFGH: two groups of four are easier to read out and to copy."""
    return f"{code[:4]}-{code[4:]}" if len(code) == QUERY_LENGTH else code


def query_code_digest(code: str) -> str:
    return hmac.new(_derived_key("query-code"), code.encode(), hashlib.sha256).hexdigest()


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived_key("query-code-seal")))


def seal_query_code(code: str) -> str:
    return _fernet().encrypt(code.encode()).decode()


def unseal_query_code(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        current_app.logger.error("a stored 查询码 cannot be unsealed (SECRET_KEY changed?)")
        return ""


# -- the sender's address --------------------------------------------------------------------------------
def source_hash(ip: str) -> str:
    """A keyed hash of the client address: bursts from one place can be seen without storing the address."""
    return hmac.new(_derived_key("source"), (ip or "").encode(), hashlib.sha256).hexdigest()[:32]
