"""Printable posters and desk plates with a service point's QR code (segno), its name and a call to action.

Interface (used by points_views): SIZES, SIZE_NAMES, item_for(point, staff_code, url) -> PosterItem,
render_pdf(items, size) -> bytes (one page per item), qr_svg(url) -> bytes.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import segno

SIZES = ("a4", "a5", "plate")
SIZE_NAMES = {"a4": "A4海报", "a5": "A5海报", "plate": "桌牌"}


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


def qr_svg(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="svg", scale=8, border=4)
    return out.getvalue()


def render_pdf(items: list[PosterItem], size: str) -> bytes:
    raise NotImplementedError("posters are being written")
