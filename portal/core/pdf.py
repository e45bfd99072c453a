"""HTML to PDF with WeasyPrint, for every domain that prints (SOP versions, feedback posters).

Nothing is fetched while rendering: every URL the HTML names (``<img>``, ``<link>``, ``@import``, ``url()``,
``data:`` too) goes to a URL fetcher that refuses it, WeasyPrint logs the refusal and renders without it, and
there is no base URL, so no relative path reaches the file system. Whatever a page needs is in the HTML: CSS
in a ``<style>`` element, images as inline ``<svg>``. Templates laid out here live under a ``pdf/`` folder
(``tests/web/test_security.py`` allows ``<style>`` there only).

The fonts come from the system (fontconfig): Debian's fonts-wqy-microhei, installed by ``make system-deps``
(and by ``make pdf-deps`` for ``make run``) with the Pango libraries WeasyPrint needs. A host without them
gets :class:`PdfUnavailable`, a ServiceError the views show as a message, not a server error.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask_babel import gettext as _

from portal.core.errors import ServiceError

log = logging.getLogger(__name__)

#: The font stack every PDF template uses: the CJK font the project installs, then what fontconfig finds.
FONT_FAMILY = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif'


class PdfUnavailable(ServiceError):
    """This host cannot make PDFs (a system library is missing)."""

    def __init__(self) -> None:
        super().__init__((None, _("The PDF cannot be made: this server lacks the PDF libraries (Pango and a Chinese "
                                  "font). Tell the administrator.")))


class FetchRefused(ValueError):
    """Raised by the URL fetcher for every URL (WeasyPrint catches it, logs it and goes on)."""


def refuse(url: str) -> None:
    raise FetchRefused(f"a PDF loads nothing from outside: {url[:200]}")


def _weasyprint_html():
    try:
        from weasyprint import HTML  # loads Pango: only in the processes that make PDFs
    except OSError as exc:  # Pango or HarfBuzz missing on this host (make pdf-deps installs them)
        log.error("WeasyPrint cannot load its system libraries: %s", exc)
        raise PdfUnavailable()
    return HTML


def refusing_fetcher(on_url: Callable[[str], None] | None = None):
    """A WeasyPrint URL fetcher that hands every URL to ``on_url``, which raises (:func:`refuse`, looked up
    at each URL, by default: a caller may pass its own, to name itself in the log; a test may watch)."""
    from weasyprint.urls import URLFetcher

    class RefuseAll(URLFetcher):
        def fetch(self, url, headers=None):
            (on_url or refuse)(url)
            raise FetchRefused(url[:200])  # should ``on_url`` return, the URL is refused all the same

    return RefuseAll()


def html_to_pdf(html: str, *, on_url: Callable[[str], None] | None = None) -> bytes:
    """The PDF of ``html`` (a whole document, with its CSS inline). Raises :class:`PdfUnavailable` when this
    host lacks the libraries."""
    html_class = _weasyprint_html()
    return html_class(string=html, base_url=None, url_fetcher=refusing_fetcher(on_url)).write_pdf()
