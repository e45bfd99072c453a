"""Word files for the tests: the portal's own minimal builder, and a zip bomb made from its parts."""
from __future__ import annotations

import functools
import io
import zipfile

from portal.sop.docx_builder import DOCUMENT_END, DOCUMENT_START, docx, docx_parts, member

__all__ = ["docx", "docx_bomb"]

GB = 1024 * 1024 * 1024


@functools.cache
def docx_bomb(unpacked: int = GB) -> bytes:
    """A valid .docx whose word/document.xml is ``unpacked`` bytes, almost all spaces between the body's tags.

    It is really written, 1 MB at a time so that memory stays small, deflated at level 1 (level 6 takes three
    times as long on a run of spaces): ~1 GB takes about two seconds and packs to ~5 MB. Cached, since several
    tests use it. ``force_zip64``: the member's size is not known when it is opened."""
    chunk = b" " * (1024 * 1024)
    head, tail = DOCUMENT_START.encode(), DOCUMENT_END.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, xml in docx_parts(["炸弹"]).items():
            if name != "word/document.xml":
                archive.writestr(member(name), xml.encode("utf-8"))
        with archive.open("word/document.xml", "w", force_zip64=True) as document:
            document.write(head)
            left = unpacked - len(head) - len(tail)
            while left > 0:
                document.write(chunk[:left])
                left -= len(chunk)
            document.write(tail)
    return buffer.getvalue()
