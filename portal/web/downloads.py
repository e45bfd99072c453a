"""Downloads with a Chinese file name that every browser saves correctly."""
from __future__ import annotations

import io
from urllib.parse import quote

from flask import send_file

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def send_download(data: bytes, filename: str, ascii_filename: str, mimetype: str = XLSX):
    """``filename`` (e.g. 质量职能分配表-20261202.xlsx) as RFC 5987 ``filename*``, and ``ascii_filename``
    (e.g. raci-matrix-20261202.xlsx) as the plain ``filename`` for clients that ignore it. Flask's own
    fallback drops the Chinese characters and leaves "-20261202.xlsx"."""
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=False)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{ascii_filename}"; filename*=UTF-8\'\'{quote(filename)}')
    return response
