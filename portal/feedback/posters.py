"""Printable posters and desk plates with a service point's QR code (segno), its name and a call to action.

Interface (used by points_views): SIZES, SIZE_NAMES, item_for(point, staff_code, url) -> PosterItem,
render_pdf(items, size) -> bytes (one page per item), qr_svg(url) -> bytes.

The layout is ``templates/feedback/pdf/poster.html``, laid out by WeasyPrint through ``portal.core.pdf``
(nothing fetched: the QR code is inline SVG). Its words are English msgids under the context "poster",
so the printout is in the locale of the request (the portal's default, Chinese, in a worker).

* ``a4`` and ``a5``: a portrait poster for a wall, a stand or a window: the point's department, name and
  location, the call to action (扫码评价 · 您的意见让服务更好), a large QR code, 无需登录，30 秒完成, and at the
  foot the code (and, for a staff code, the clerk's name) and the address for typing by hand.
* ``plate``: a tent card folded from one A4 sheet printed in landscape: the fold runs across the middle, each
  face is 297 × 105 mm, the top half is printed upside down so that both faces read the right way up once
  folded. One sheet from any office printer (160–200 g/m² card stands best), no acrylic holder to buy; about
  10 cm high, so it stands on a bank counter's ledge without hiding the talk-through grille or the document
  tray; as wide as a name plate, so the clerk's name reads from the queue; and printed on both faces, so it
  also serves an open desk (大堂经理, 理财经理) approached from either side. Its QR code is 70 mm wide, enough
  for a phone held at arm's length (scanning distance is about ten times the code's width).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from flask import render_template
from flask_babel import get_locale
from markupsafe import Markup

from portal.core.pdf import FONT_FAMILY, html_to_pdf

SIZES = ("a4", "a5", "plate")
SIZE_NAMES = {"a4": "A4海报", "a5": "A5海报", "plate": "桌牌"}
TEMPLATE = "feedback/pdf/poster.html"

#: Error correction M (15 % of the code may be dirty or torn) at least; segno raises it to Q or H when that
#: fits in the same version, which it does for the portal's short kiosk URLs.
ERROR_CORRECTION = "m"
#: The quiet zone around the code, in modules: 4 is what ISO/IEC 18004 asks for.
QUIET_ZONE = 4


@dataclass(frozen=True)
class PosterItem:
    code: str
    name: str
    location: str
    department: str
    staff_name: str
    url: str


def item_for(point, staff_code, url: str) -> PosterItem:
    return PosterItem(code=staff_code.code if staff_code is not None else point.code, name=point.name,
                      location=point.location, department=point.department.name if point.department else "",
                      staff_name=staff_code.user.display_name if staff_code is not None else "", url=url)


def qr_code(url: str) -> segno.QRCode:
    return segno.make(url, error=ERROR_CORRECTION, micro=False)


def qr_svg(url: str) -> bytes:
    """The QR code of ``url`` as a standalone SVG file (for a designer's own poster): 8 px a module."""
    out = io.BytesIO()
    qr_code(url).save(out, kind="svg", scale=8, border=QUIET_ZONE, light="#fff")
    return out.getvalue()


def _inline_svg(url: str) -> Markup:
    """The QR code as an ``<svg>`` element sized by the page's CSS (a viewBox, no width or height), on white,
    quiet zone included. segno writes only the modules' path: no text of ``url`` appears in it."""
    out = io.BytesIO()
    qr_code(url).save(out, kind="svg", xmldecl=False, svgns=True, omitsize=True, border=QUIET_ZONE, light="#fff",
                      nl=False, title=None, desc=None)
    return Markup(out.getvalue().decode("ascii"))


def _length_class(text: str) -> str:
    """A longer name is set smaller, so that it keeps to its box (at most 100 characters)."""
    return "short" if len(text) <= 10 else "medium" if len(text) <= 20 else "long"


def render_html(items: list[PosterItem], size: str) -> str:
    """The HTML that :func:`render_pdf` lays out (needs an app context)."""
    if size not in SIZES:
        raise ValueError(f"no such poster size: {size!r}")
    locale = get_locale()
    pages = [{"item": item, "qr": _inline_svg(item.url), "name_class": _length_class(item.name),
              "staff_class": _length_class(item.staff_name)} for item in items]
    return render_template(TEMPLATE, pages=pages, size=size, font_family=Markup(FONT_FAMILY),
                           html_lang=str(locale).replace("_", "-") if locale else "zh-Hans-CN")


def render_pdf(items: list[PosterItem], size: str) -> bytes:
    """One page per item: an A4 or A5 poster, or a desk plate (a tent card on A4 landscape)."""
    return html_to_pdf(render_html(items, size))
