from __future__ import annotations

from flask import request


def client_ip() -> str:
    """The client's address. ProxyFix (PORTAL_PROXY_COUNT) has already applied X-Forwarded-For."""
    return (request.remote_addr or "unknown")[:64]
