from flask_babel import gettext as _
from flask import url_for
from flask_login import current_user, login_required

from portal.home import bp
from portal.home.registry import TodoItem, register_todo_provider, todo_items
from portal.web.htmx import render


@register_todo_provider("account")
def _account_todos(user):
    if user.must_change_password:
        return [
            TodoItem(
                title=_("Change your initial password"),
                url=url_for("auth.change_password"),
                category=_("Account"),
                urgent=True,
            )
        ]
    return []


@bp.route("/")
@login_required
def index():
    """我的待办: the user's open items from every domain."""
    items = todo_items(current_user)
    return render("home/index.html", "home/_partials/_todos.html", items=items)
