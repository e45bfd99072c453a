"""htmx helpers: page-or-partial rendering, redirects that work for htmx and plain requests."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import make_response, redirect, render_template, request

from portal.core.parsing import MAX_DB_INT, parse_id, parse_int
from portal.extensions import htmx


def wants_partial() -> bool:
    """An htmx request that swaps a fragment. Boosted navigation and history restoration (the back
    button, with htmx's history cache off) want the whole page."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(page_template: str, partial_template: str, /, **context):
    """Render the partial for an htmx swap, otherwise the full page (which includes the partial).

    A partial answering a form post (anything but GET) also replaces the page's message box out of band:
    the messages of this action appear, and those of an earlier one go. (GETs leave it alone: the bell's
    polling must not take a message meant for the page a redirect is about to load.)"""
    partial = wants_partial()
    body = render_template(partial_template if partial else page_template, **context)
    if partial and request.method != "GET":
        body += render_template("_partials/_flashes.html", oob=True)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def redirect_to(url: str, code: int = 303):
    """Redirect; an htmx request gets ``HX-Redirect`` so the whole page navigates, not a fragment."""
    if htmx:
        response = make_response("", 204 if code < 400 else code)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code)


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or len(target) > 2000:
        return False
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and not any(ord(c) < 32 for c in target)


MAX_DB_ID = MAX_DB_INT


def arg_int(name: str, default: int | None = None, *, minimum: int = 0, maximum: int = MAX_DB_ID) -> int | None:
    """An integer query parameter, or ``default`` when it is missing, malformed or out of the range a
    database integer holds (so a hand-edited URL cannot turn into a database error)."""
    value = parse_int(request.args.get(name), minimum=minimum, maximum=maximum)
    return default if value is None else value


def arg_ids(name: str) -> list[int]:
    """Every valid database id among a repeated query parameter (``?dept=3&dept=5``); others are ignored."""
    return [i for i in (parse_id(v) for v in request.args.getlist(name)) if i is not None]
