"""Which requests the rate limiter looks at. Limits guard POSTs (login, the kiosk form); reads skip the
limiter's bookkeeping, which was measurable on every page — except views marked :func:`limits_reads` (the
查询码 page, where guessing codes is a read; the ticket queue, whose pages a script could walk id by id).

``limits_reads`` only lets the view's own limits count its GETs (there are no default limits): mark the view
with a limit too, e.g. :func:`reads_per_user`."""
from __future__ import annotations

from typing import Callable

from flask import current_app, request

READS_ATTR = "_portal_limit_reads"


def limits_reads(view: Callable) -> Callable:
    setattr(view, READS_ATTR, True)
    return view


def skip_limits() -> bool:
    """The limiter's request filter: True for a read of a view that does not limit reads."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return not (view is not None and getattr(view, READS_ATTR, False))


def _user_key() -> str:
    from flask_login import current_user

    from portal.core.net import client_ip

    return f"user:{current_user.id}" if current_user.is_authenticated else f"ip:{client_ip()}"


def reads_per_user(config_key: str, scope: str):
    """A limit shared by every view it decorates (``scope``), counted per signed-in user (the client address
    before sign-in), its value read from ``config[config_key]`` at request time. Put it under
    :func:`limits_reads` so that GETs count."""
    from portal.extensions import limiter

    return limiter.shared_limit(lambda: current_app.config[config_key], scope, key_func=_user_key)
