"""The smaller findings of the first trial (issue 8, item 13)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

from portal.core.roles import ADMIN
from portal.devserver import process_commands

ROOT = Path(__file__).resolve().parents[2]


def _config_value(name: str, **env) -> str:
    out = subprocess.run([sys.executable, "-c", f"import config; print(config.Config.{name})"], cwd=ROOT,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}, check=True)
    return out.stdout.strip()


def test_the_base_url_follows_the_port_unless_set():
    assert _config_value("PORTAL_BASE_URL", PORT="5101") == "http://127.0.0.1:5101"
    assert _config_value("PORTAL_BASE_URL") == "http://127.0.0.1:5000"
    assert _config_value("PORTAL_BASE_URL", PORT="5101", PORTAL_BASE_URL="https://zl.example.cn") == \
        "https://zl.example.cn"


def test_two_instances_get_two_gunicorn_control_sockets(tmp_path):
    first = process_commands("127.0.0.1", "5000", tmp_path, "redis://x")["web"]
    second = process_commands("127.0.0.1", "5101", tmp_path, "redis://x")["web"]
    sockets = [cmd[cmd.index("--control-socket") + 1] for cmd in (first, second)]
    assert sockets[0] != sockets[1] and all(s.startswith(str(tmp_path)) for s in sockets)


def test_logged_in_pages_are_not_cached(client_for, make_user, client):
    assert client_for(make_user()).get("/notifications").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")


def test_a_405_says_which_methods_are_allowed(client_for, make_user):
    response = client_for(make_user()).get("/logout")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]


def test_the_matrix_export_has_an_ascii_fallback_name(client_for, make_user):
    response = client_for(make_user(roles=(ADMIN,))).get("/quality/matrix/export.xlsx")
    disposition = response.headers["Content-Disposition"]
    assert 'filename="raci-matrix-' in disposition and '"-' not in disposition
    assert "质量职能分配表-" in unquote(disposition.split("filename*=UTF-8''")[1])


def test_a_locked_account_checks_the_password_like_any_other(app, make_user, monkeypatch):
    """As slow as a wrong password (no timing in the test: the same work is done)."""
    from portal.auth import services
    from portal.core.errors import ServiceError

    user = make_user()
    checked = []
    real = services.check_password_hash
    monkeypatch.setattr(services, "check_password_hash", lambda h, p: checked.append(p) or real(h, p))
    for _ in range(app.config["PORTAL_LOCKOUT_ATTEMPTS"]):
        try:
            services.authenticate(user.username, "wrong", "10.0.0.9")
        except ServiceError:
            pass
    checked.clear()
    try:
        services.authenticate(user.username, "wrong", "10.0.0.9")  # now locked
    except ServiceError:
        pass
    assert checked == ["wrong"]


def test_the_bar_groups_menus_where_their_first_entry_stands_and_a_menu_of_one_is_a_link(app, make_user):
    from portal.core.roles import ADMIN, EMPLOYEE, QUALITY_MANAGER
    from portal.web.nav import FEEDBACK_MENU, QUALITY_MENU, navigation

    with app.test_request_context("/"):
        manager = navigation(make_user("nav_qm", roles=(QUALITY_MANAGER,)))
        places = [item.get("key") or item["endpoint"] for item in manager]
        menus = {item["key"]: [sub["endpoint"] for sub in item["entries"]] for item in manager if item.get("menu")}
        assert menus[QUALITY_MENU] == ["policy.index", "objectives.index", "raci.index", "raci.mine", "processes.index"]
        assert menus[FEEDBACK_MENU] == ["feedback.index", "points.index", "queue.appeals", "ranking.index"]
        assert places.index(QUALITY_MENU) < places.index("sop.index") < places.index(FEEDBACK_MENU)
        assert "queue.index" in [item.get("endpoint") for item in manager]  # the queue stays in the bar
        employee = navigation(make_user("nav_emp", roles=(EMPLOYEE,)))
        feedback = next(item for item in employee if item.get("key") == FEEDBACK_MENU)
        assert [sub["endpoint"] for sub in feedback["entries"]] == ["feedback.index", "ranking.index"]
        admin = navigation(make_user("nav_admin", roles=(ADMIN,)))
        assert not any(item.get("endpoint") == "queue.appeals" for item in admin)
