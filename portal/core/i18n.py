"""Locale and time zone selection, and display helpers."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

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


def portal_tz() -> ZoneInfo:
    """The portal's time zone (Asia/Shanghai unless configured): working days, periods, digests."""
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def local_datetime(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A stored UTC time shown in the portal's time zone (Asia/Shanghai)."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def _request_translations():
    """The current catalog, looked up once per request (Flask-Babel looks it up again on every call).

    Cached next to Flask-Babel's own per-request state and keyed by its locale object, so ``force_locale``
    (which swaps that object) is honoured."""
    from flask import g
    from flask_babel import get_translations

    state = g.__dict__.get("_flask_babel") if g else None
    if state is None:
        return get_translations()
    locale = state.__dict__.get("babel_locale")
    cached = state.__dict__.get("portal_translations")
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    state.portal_translations = (state.babel_locale, translations)
    return translations


def install_template_gettext(app) -> None:
    """Templates call ``_()`` often (a dozen times a page): give them the per-request cached catalog.
    ``pgettext(context, msgid)`` gives one English word two Chinese translations ("To": 收件人 / 至)."""
    app.jinja_env.install_gettext_callables(
        lambda string: _request_translations().ugettext(string),
        lambda singular, plural, n: _request_translations().ungettext(singular, plural, n),
        pgettext=lambda context, string: _request_translations().pgettext(context, string),
        npgettext=lambda context, singular, plural, n: _request_translations().npgettext(context, singular, plural, n),
        newstyle=True,
    )


def remember_locale(user, code: str) -> None:
    """Keep the interface language on the account, so it follows the user to another browser."""
    from portal.extensions import db

    user.locale = code
    db.session.flush()
