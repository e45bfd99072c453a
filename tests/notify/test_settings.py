"""The notification settings form: SMTP server, quiet hours and digest time; the password stored encrypted."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.core.errors import PermissionDenied, ServiceError
from portal.extensions import db
from portal.notify.models import NotifySettings
from portal.notify.services import decrypt_secret, get_settings, save_settings
from tests.helpers import HX, audit, count, field_has_error

GOOD = {
    "smtp_host": "smtp.example.cn", "smtp_port": "465", "smtp_security": "ssl", "smtp_user": "portal",
    "smtp_password": "邮件密码-S3cret!", "smtp_from": "服务质量门户 <quality@example.cn>",
    "quiet_start": "21:00", "quiet_end": "07:30", "digest_time": "08:45",
}


@pytest.mark.parametrize("field, value", [
    ("smtp_host", "smtp://x"),
    ("smtp_host", "mail.example.cn:25"),
    ("smtp_host", "mail example.cn"),
    ("smtp_port", "0"),
    ("smtp_port", "70000"),
    ("smtp_port", "abc"),
    ("smtp_port", ""),
    ("smtp_security", "tls"),
    ("smtp_from", "not-an-email"),
    ("smtp_from", ""),
    ("quiet_start", "25:00"),
    ("quiet_end", "abc"),
    ("digest_time", "8h30"),
    ("digest_time", ""),
])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_malformed_settings_are_refused_and_nothing_is_saved(admin_client, field, value, headers):
    response = admin_client.post("/admin/notify/settings", data={**GOOD, field: value}, headers=headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 422, body[:500]
    assert field_has_error(body, field)
    assert ("<html" in body) == (not headers)
    assert count(NotifySettings) == 0
    assert audit("notify.settings_update") == []
    assert "邮件密码-S3cret!" not in body  # the password field is never echoed back


def test_good_settings_are_saved_with_the_password_encrypted(admin_client, admin):
    response = admin_client.post("/admin/notify/settings", data=GOOD)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/notify/settings"
    [row] = db.session.scalars(sa.select(NotifySettings))
    assert (row.smtp_host, row.smtp_port, row.smtp_security, row.smtp_user) == ("smtp.example.cn", 465, "ssl", "portal")
    assert row.smtp_from == "服务质量门户 <quality@example.cn>"
    assert (row.quiet_start, row.quiet_end, row.digest_time) == ("21:00", "07:30", "08:45")
    assert row.smtp_password_encrypted and row.smtp_password_encrypted != GOOD["smtp_password"]
    assert GOOD["smtp_password"] not in row.smtp_password_encrypted
    assert decrypt_secret(row.smtp_password_encrypted) == GOOD["smtp_password"]
    [event] = audit("notify.settings_update")
    assert event.actor_id == admin.id and event.summary["password_changed"] is True
    assert event.summary["after"]["smtp_host"] == "smtp.example.cn"
    assert GOOD["smtp_password"] not in str(event.summary) and row.smtp_password_encrypted not in str(event.summary)

    page = admin_client.get("/admin/notify/settings")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "smtp.example.cn" in body
    assert GOOD["smtp_password"] not in body and row.smtp_password_encrypted not in body

    # Saving again without a password keeps the stored one; the host may be emptied (captured email).
    stored = row.smtp_password_encrypted
    response = admin_client.post("/admin/notify/settings",
                                 data={**GOOD, "smtp_password": "", "smtp_host": "", "smtp_port": "25"}, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/admin/notify/settings"
    db.session.refresh(row)
    assert row.smtp_host == "" and row.smtp_password_encrypted == stored
    assert count(NotifySettings) == 1
    assert get_settings().id == row.id


def test_settings_fall_back_to_the_configuration_until_saved(app):
    settings = get_settings()
    assert settings.id is None
    assert settings.smtp_host == app.config["SMTP_HOST"] == ""
    assert (settings.quiet_start, settings.quiet_end, settings.digest_time) == ("20:00", "08:00", "08:30")


def test_the_service_checks_the_role_and_all_fields(make_user, admin):
    with pytest.raises(PermissionDenied):
        save_settings(make_user(), smtp_host="", smtp_port=25, smtp_security="none", smtp_user="", smtp_password=None,
                      smtp_from="a@example.cn", quiet_start="20:00", quiet_end="08:00", digest_time="08:30")
    with pytest.raises(ServiceError) as info:
        save_settings(admin, smtp_host="smtp://x", smtp_port=70000, smtp_security="tls", smtp_user="",
                      smtp_password="x", smtp_from="not-an-email", quiet_start="25:00", quiet_end="abc",
                      digest_time="")
    assert {f for f, _m in info.value.errors} == {"smtp_host", "smtp_port", "smtp_security", "smtp_from",
                                                   "quiet_start", "quiet_end", "digest_time"}
    assert count(NotifySettings) == 0
