"""What the auth domain plugs in: login, logout and password pages; the "change your initial password"
to-do; the nightly purge of old login attempts."""
from flask import url_for
from flask_babel import gettext as _

from portal.auth import bp
from portal.auth.jobs import purge_login_attempts
from portal.core.registry import register_cron
from portal.home.registry import TodoItem, register_todo_provider
from portal.auth import audit_trail

BLUEPRINTS = (bp,)


def _password_todo(user) -> list[TodoItem]:
    if not user.must_change_password:
        return []
    return [TodoItem(title=_("Change your initial password"), url=url_for("auth.change_password"),
                     category=_("Account"), urgent=True)]


def setup() -> None:
    audit_trail.register()
    register_todo_provider("account", _password_todo, order=10)
    register_cron("purge_login_attempts", purge_login_attempts, cron="0 3 * * *")
