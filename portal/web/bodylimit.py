"""Per-blueprint request body limits, smaller than the application's (which is sized for file uploads).

``limit_bodies(bp, "PORTAL_…_KB")`` sets ``request.max_content_length`` for the blueprint's routes in a URL value
preprocessor: those run before every before_request function, and the CSRF check in one of those reads the
form. A larger body is a RequestEntityTooLarge, answered by the blueprint's error page (``portal.web.errors``)."""
from __future__ import annotations

from flask import Blueprint, current_app, request


def limit_bodies(bp: Blueprint, setting: str) -> None:
    """Refuse bodies of ``bp``'s routes larger than ``current_app.config[setting]`` KB (in the domain's ``setup()``: before the blueprint is registered)."""

    def small_bodies_only(endpoint, values):
        request.max_content_length = current_app.config[setting] * 1024

    bp.url_value_preprocessor(small_bodies_only)
