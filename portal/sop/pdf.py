"""The printable PDF of an SOP version: WeasyPrint, CSS paged media, A4.

Every page has a running header (code, title, version, effective date) and a footer (page x of y, the copy
mark, who printed it and when); a superseded version carries a diagonal watermark on every page; the
signature record is the last page. The layout is ``templates/sop/pdf/version.html``.

The caller decides the words that depend on the document's state and passes them as data, so this module
needs no rules of its own about copies or versions:

* ``watermark_text``: "已作废" for a superseded version, "" for none;
* ``copy_mark``: "受控副本 第 3 份 · 持有人：张三" for a controlled copy, "非受控 仅供参考" otherwise;
* ``effective_text``, ``signed_at_text``, ``printed_at_text``: dates and times already formatted.

The fixed words of the layout are English msgids under the context "sop pdf" in the template (the
zh_Hans_CN catalog gives them in Chinese). The PDF is in the locale of the current app or request context:
a user's language in a request, the portal's default (zh_Hans_CN) in a worker; use ``force_locale`` to
choose.

The header and footer are CSS margin boxes, so their text is a CSS string (``content:``) built from data by
:func:`css_content`, which also turns the page counters into ``counter(page)`` / ``counter(pages)``.

Nothing is fetched while rendering: ``body_html`` is inserted as is (it is already sanitized, from Markdown
or DOCX), but an ``<img>``, ``<link>``, ``@import`` or ``url()`` left in it is refused by the URL fetcher
(the rendering goes on without it), and there is no base URL, so no relative path reaches the file system.
The HTML-to-PDF step itself (WeasyPrint, the refusing fetcher, :class:`PdfUnavailable` when Pango is
missing, the fonts) is ``portal/core/pdf.py``, shared with the feedback posters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import render_template
from markupsafe import Markup

from portal.core.pdf import FetchRefused, PdfUnavailable, html_to_pdf

__all__ = ["PAGE", "PAGES", "FetchRefused", "PdfDocument", "PdfSignature", "PdfUnavailable", "css_content",
           "css_string", "render_html", "render_pdf"]

TEMPLATE = "sop/pdf/version.html"

#: Stand-ins for the page counters inside a translated string (Unicode private-use characters, which no
#: catalog or document contains): ``pgettext("sop pdf", "Page %(page)s of %(pages)s", page=PAGE,
#: pages=PAGES)`` in the template, then ``css_content`` makes them ``counter(page)`` and ``counter(pages)``.
PAGE = "\ue000"
PAGES = "\ue001"
_COUNTERS = {PAGE: "counter(page)", PAGES: "counter(pages)"}
_COUNTER_SPLIT = re.compile(f"([{PAGE}{PAGES}])")
#: Left as they are in a CSS string; everything else is written as a hex escape (quotes, backslash, ``<``
#: so that no ``</style>`` can appear, control characters).
_CSS_PLAIN = re.compile(r"[^\"'\\<>&\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(kw_only=True)
class PdfSignature:
    signer_name: str        # full name, e.g. 王经理
    meaning_label: str      # e.g. 审核, 批准, 作废, 定期评审
    signed_at_text: str     # e.g. 2026-12-02 10:15
    comment: str
    content_sha256: str     # the SHA-256 of the signed content (64 hex digits)


@dataclass(kw_only=True)
class PdfDocument:
    code: str
    title: str
    version_label: str      # e.g. "2.1"
    effective_text: str     # e.g. "2026年12月2日", or "" when the version is not effective
    department: str
    process: str
    doc_type: str
    change_summary: str
    body_html: str          # ALREADY sanitized HTML: inserted as is
    attachment_note: str = ""   # e.g. "附件：xxx.pdf（PDF 原件另行下载）"
    watermark_text: str = ""    # e.g. "已作废" on every page of a superseded version; "" for none
    copy_mark: str = ""         # "受控副本 第 3 份 · 持有人：张三" or "非受控 仅供参考"
    signatures: list[PdfSignature] = field(default_factory=list)
    printed_at_text: str = ""
    printed_by: str = ""


def css_string(text: str) -> str:
    """``text`` as a double-quoted CSS string: runs of white space (newlines too) become one space; quotes,
    backslashes, ``<``, ``>``, ``&`` and control characters are hex escapes."""
    text = re.sub(r"\s+", " ", text)
    return '"' + "".join(ch if _CSS_PLAIN.match(ch) else f"\\{ord(ch):x} " for ch in text) + '"'


def css_content(text: str) -> Markup:
    """A CSS ``content`` value for ``text``: CSS strings, with :data:`PAGE` and :data:`PAGES` as the page
    counters. ``text`` may be Markup (what ``pgettext`` gives in an autoescaped template): it is unescaped
    first, since a CSS string is not HTML."""
    if isinstance(text, Markup):
        text = text.unescape()
    text = re.sub(r"\s+", " ", str(text)).strip()
    parts = [_COUNTERS.get(part) or css_string(part) for part in _COUNTER_SPLIT.split(text) if part]
    return Markup(" ".join(parts) or '""')


def render_html(doc: PdfDocument) -> str:
    """The HTML that :func:`render_pdf` lays out (needs an app context)."""
    return render_template(TEMPLATE, doc=doc, body=Markup(doc.body_html), css_content=css_content,
                           PAGE=PAGE, PAGES=PAGES)


def render_pdf(doc: PdfDocument) -> bytes:
    """The PDF of ``doc`` (needs an app context, for the template and the catalog)."""
    # ``_refuse`` is looked up at each URL, so a test can watch the refusals through this module.
    return html_to_pdf(render_html(doc), on_url=lambda url: _refuse(url))


def _refuse(url):
    raise FetchRefused(f"the SOP PDF loads nothing from outside: {url[:200]}")
