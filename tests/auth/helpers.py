"""Helpers of the login and password tests: the errors a login or password form shows."""
from __future__ import annotations

import re

FORM_ERROR_RE = re.compile(r'<div class="alert alert-danger" role="alert">\s*(.*?)\s*</div>\s*(?:<div class="mb-3|$)', re.S)
FIELD_ERROR_RE = re.compile(r'<div class="invalid-feedback d-block">(.*?)</div>')


def form_error(response) -> str:
    """The form-level error text of a login page (the generic message), or '' when there is none."""
    match = FORM_ERROR_RE.search(response.get_data(as_text=True))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else ""


def field_errors(response) -> list[str]:
    return FIELD_ERROR_RE.findall(response.get_data(as_text=True))
