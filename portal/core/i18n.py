"""Locale and time zone selection, and display helpers."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, has_request_context, session
from flask_babel import format_datetime
from flask_login import current_user


def select_locale() -> str:
    languages = current_app.config["PORTAL_LANGUAGES"]
    if has_request_context():
        lang = session.get("lang")
        if lang in languages:
            return lang
        if current_user and current_user.is_authenticated and current_user.locale in languages:
            return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def local_datetime(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A stored UTC time shown in the portal's time zone (Asia/Shanghai)."""
    if value is None:
        return ""
    return format_datetime(value, fmt)
