"""The base form of the portal.

Flask-WTF loads WTForms' own message catalog (for "This field is required." and friends) from disk on
every request; profiling showed that as 17% of a login page. The catalog never changes while the
process runs, so it is loaded once per locale here.
"""
from __future__ import annotations

import functools

from babel import support
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path


@functools.lru_cache(maxsize=8)
def _wtforms_catalog(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsTranslations:
    def gettext(self, string):
        return _wtforms_catalog(str(get_locale())).ugettext(string)

    def ngettext(self, singular, plural, n):
        return _wtforms_catalog(str(get_locale())).ungettext(singular, plural, n)


_TRANSLATIONS = _WTFormsTranslations()


class PortalForm(FlaskForm):
    """Every form of the portal derives from this (CSRF from Flask-WTF, WTForms messages in Chinese)."""

    class Meta:
        def get_translations(self, form):
            return _TRANSLATIONS


class ConfirmForm(PortalForm):
    """An empty form: a CSRF-protected button (publish, remind, deactivate, apply an import…)."""
