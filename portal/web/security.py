"""Security headers. Written by hand (a dozen lines) rather than with Flask-Talisman, whose
HTTPS-forcing defaults fight plain-HTTP intranet deployments and whose last release is from 2023.
Also here: requests carrying NUL characters in their values are refused as malformed."""
from __future__ import annotations

from flask import abort, request, session

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # no inline script, no eval: htmx runs with allowEval=false
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _has_nul(values) -> bool:
    return any("\x00" in value for _key, value in values.items(multi=True))


def init_app(app) -> None:
    headers_to_add = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if app.config.get("SESSION_COOKIE_SECURE"):
        headers_to_add.append(("Strict-Transport-Security", "max-age=31536000"))
    names = [(name, name.lower()) for name, _value in headers_to_add]

    @app.before_request
    def refuse_nul_bytes():
        """A NUL character is never meaningful in a form or query value, and PostgreSQL refuses it in text
        (a DataError, so a 500): refuse the request up front as malformed."""
        if _has_nul(request.args) or (request.method in {"POST", "PUT", "PATCH", "DELETE"} and _has_nul(request.form)):
            abort(400)
        return None

    @app.after_request
    def add_security_headers(response):
        if request.endpoint != "static" and "_user_id" in session and "Cache-Control" not in response.headers:
            # A logged-in page holds someone's data: no copy in the browser's cache or a proxy's, so the back
            # button after logout, or the next user of a shared PC, cannot show it.
            response.headers["Cache-Control"] = "no-store"
        present = {key.lower() for key in response.headers.keys()}
        for (name, lowered), (_same, value) in zip(names, headers_to_add):
            if lowered not in present:
                response.headers.add(name, value)
        return response
