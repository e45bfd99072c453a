from flask_login import current_user, login_required

from portal.home import bp
from portal.home.registry import panels_for, todo_items
from portal.web.htmx import render


@bp.route("/")
@login_required
def index():
    """我的待办: the panels and open items that every domain registered for the user."""
    return render("home/index.html", "home/_partials/_todos.html", items=todo_items(current_user),
                  panels=panels_for(current_user))
