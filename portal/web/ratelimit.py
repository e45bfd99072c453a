"""Which requests the rate limiter looks at. Limits guard POSTs (login, the kiosk form); reads skip the
limiter's bookkeeping, which was measurable on every page — except views marked :func:`limits_reads` (the
查询码 page, where guessing codes is a read)."""
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
