"""Security headers, cookie flags, the templates' CSP-compatibility, htmx hardening and CSRF."""
from __future__ import annotations

import json
import re

import pytest

from tests.helpers import DEFAULT_PASSWORD, HX, ROOT, translated
from tests.web import separate_app

TEMPLATES = ROOT / "templates"
STRONG_KEY = "k" * 20 + "-production-secret-for-tests"


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_security_headers(response, what: str) -> None:
    policy = response.headers.get("Content-Security-Policy")
    assert policy, f"{what}: no CSP"
    directives = csp_directives(response)
    assert directives.get("script-src") == ["'self'"], f"{what}: {policy}"
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, f"{what}: {policy}"
    assert directives.get("frame-ancestors") == ["'none'"], f"{what}: {policy}"
    assert directives.get("object-src") == ["'none'"], f"{what}: {policy}"
    assert directives.get("default-src") == ["'self'"], f"{what}: {policy}"
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("Referrer-Policy") in {"same-origin", "no-referrer", "strict-origin",
                                                      "strict-origin-when-cross-origin"}, what
    assert response.headers.get("X-Frame-Options") == "DENY", what


@pytest.fixture
def logged_in(client, make_user, login):
    login(client, make_user())
    return client


def test_headers_on_every_kind_of_response(client, make_user, login, redis_url):
    samples = {
        "login page": client.get("/login"),
        "login form fragment": client.post("/login", data={"username": "x", "password": "y"}, headers=HX),
        "redirect to login": client.get("/admin/audit/"),
        "htmx 401": client.get("/", headers=HX),
        "csrf error": client.post("/login", data={}, csrf=False),
        "404 page": client.get("/does-not-exist"),
        "404 fragment": client.get("/does-not-exist", headers=HX),
        "405": client.get("/logout"),
        "static css": client.get("/static/css/portal.css"),
        "static js": client.get("/static/js/portal.js"),
        "static 404": client.get("/static/nope.js"),
        "healthz": client.get("/healthz"),
    }
    login(client, make_user())
    samples.update({
        "home page": client.get("/"),
        "home fragment": client.get("/", headers=HX),
        "password page": client.get("/account/password"),
        "403 page": client.get("/admin/audit/"),
        "403 fragment": client.get("/admin/org/users", headers=HX),
        "language switch": client.post("/language", data={"lang": "en", "next": "/"}),
    })
    for what, response in samples.items():
        assert response.status_code < 500, what
        assert_security_headers(response, what)


def test_static_files_are_served_with_nosniff_and_csp(client):
    response = client.get("/static/vendor/htmx/htmx.min.js")
    assert response.status_code == 200
    assert response.mimetype in {"text/javascript", "application/javascript"}
    assert_security_headers(response, "htmx.min.js")


def test_session_cookie_is_httponly_and_lax(client):
    response = client.get("/login")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags  # plain-HTTP test server


def test_session_cookie_of_the_logged_in_user_is_httponly_and_lax(client, make_user):
    user = make_user()
    response = client.post("/login", data={"username": user.username, "password": DEFAULT_PASSWORD})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags


def test_production_cookies_are_secure(tmp_path, monkeypatch):
    import config

    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PORTAL_AUDIT_KEY", "k" * 40)
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", config.ProductionConfig.SECRET_KEY)
    with separate_app(tmp_path, "production") as prod:
        assert prod.config["SESSION_COOKIE_SECURE"] is True
        assert prod.config["REMEMBER_COOKIE_SECURE"] is True
        assert prod.config["SESSION_COOKIE_HTTPONLY"] is True and prod.config["SESSION_COOKIE_SAMESITE"] == "Lax"
        response = prod.test_client().get("/login", base_url="https://portal.example")
        assert response.status_code == 200
        cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert {"secure", "httponly", "samesite=lax"} <= set(flags)
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        assert_security_headers(response, "production login page")


# -- templates ------------------------------------------------------------------------------------
def _templates():
    files = sorted(TEMPLATES.rglob("*.html"))
    assert len(files) >= 10
    return files


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.I)
STYLE_ATTR = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I | re.S)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
HX_ON = re.compile(r"\s(?:data-)?hx-on", re.I)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)
#: HTML mail (templates/email/) is never served under the portal's CSP, and mail clients ignore stylesheets:
#: inline styles are the only way to style it. The same holds for PDF templates (a ``pdf/`` folder, e.g.
#: templates/sop/pdf/): WeasyPrint lays them out on the server, with every URL refused, and no browser ever
#: loads them. Script, hx-on and event handlers stay forbidden there too.
EMAIL_MAY_USE = {STYLE_ATTR, STYLE_ELEMENT}


def _never_served(path) -> bool:
    parts = path.relative_to(TEMPLATES).parts
    return parts[0] == "email" or "pdf" in parts[:-1]


@pytest.mark.parametrize(
    "pattern, what",
    [
        (INLINE_SCRIPT, "inline <script> without src"),
        (STYLE_ATTR, "style= attribute"),
        (STYLE_ELEMENT, "<style> element"),
        (HX_ON, "hx-on attribute"),
        (EVENT_HANDLER, "on…= event handler attribute"),
        (JS_URL, "javascript: URL"),
    ],
)
def test_templates_need_no_unsafe_csp(pattern, what):
    offenders = []
    for path in _templates():
        if pattern in EMAIL_MAY_USE and _never_served(path):
            continue
        text = path.read_text(encoding="utf-8")
        for match in pattern.finditer(text):  # whole files: a tag may span lines
            line = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0).strip()[:120]}")
    assert not offenders, f"{what} (the CSP forbids it):\n" + "\n".join(offenders)


def test_the_scanner_catches_what_it_should():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert INLINE_SCRIPT.search('<script type="module">')
    assert not INLINE_SCRIPT.search('<script src="/static/x.js" defer></script>')
    assert STYLE_ATTR.search('<div class="a" style="color:red">')
    assert not STYLE_ATTR.search('<link rel="stylesheet" href="x.css">')
    assert HX_ON.search('<button hx-on:click="x()">') and HX_ON.search('<div hx-on::after-request="y">')
    assert EVENT_HANDLER.search('<img src=x onerror="alert(1)">')
    assert not EVENT_HANDLER.search('<button data-bs-toggle="collapse">')


def test_rendered_pages_have_no_inline_script_or_style(client, make_user, login, make_department):
    from portal.core.roles import ADMIN

    login(client, make_user(roles=(ADMIN,)))
    for url in ("/", "/account/password", "/admin/audit/", "/admin/org/users", "/admin/org/departments", "/nope"):
        html = client.get(url).get_data(as_text=True)
        assert not INLINE_SCRIPT.search(html), url
        assert not STYLE_ATTR.search(html), url
        assert not HX_ON.search(html), url
        assert not EVENT_HANDLER.search(html), url


def test_htmx_config_forbids_eval(client):
    html = client.get("/login").get_data(as_text=True)
    match = re.search(r"""<meta name="htmx-config" content='([^']*)'>""", html)
    assert match, "the htmx-config meta is missing"
    htmx_config = json.loads(match.group(1))
    assert htmx_config["allowEval"] is False
    assert htmx_config["allowScriptTags"] is False
    assert htmx_config["selfRequestsOnly"] is True
    assert htmx_config["historyCacheSize"] == 0  # no page (with its data) kept in localStorage


def test_scripts_come_from_this_site(client):
    html = client.get("/login").get_data(as_text=True)
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    assert sources
    assert all(src.startswith("/static/") for src in sources), sources
    assert not re.search(r'<link[^>]+href="(https?:)?//', html)


# -- CSRF -----------------------------------------------------------------------------------------
def test_post_without_token_is_refused_with_the_csrf_page(app, client, make_user):
    user = make_user()
    response = client.post("/login", data={"username": user.username, "password": DEFAULT_PASSWORD}, csrf=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<html" in html and 'data-status="400"' in html
    expected = translated(app, "The form has expired or was not sent from this site. Reload the page and try again.")
    assert expected in html
    assert not client.logged_in()


def test_csrf_message_is_chinese(app, client):
    """The catalog translates it: the page speaks Chinese by default."""
    html = client.post("/login", data={}, csrf=False).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    expected = translated(app, "The form has expired or was not sent from this site. Reload the page and try again.")
    assert re.search(r"[\u4e00-\u9fff]", expected), f"untranslated: {expected}"
    assert expected in html


def test_csrf_error_for_htmx_is_a_fragment(app, client):
    response = client.post("/login", data={}, headers=HX, csrf=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<html" not in html and 'data-status="400"' in html


def test_csrf_token_of_another_session_is_refused(app, client, make_user):
    user = make_user()
    foreign = app.test_client().csrf_token()
    response = client.post("/login", data={"username": user.username, "password": DEFAULT_PASSWORD},
                           headers={"X-CSRFToken": foreign}, csrf=False)
    assert response.status_code == 400


def test_forged_token_is_refused(client, make_user):
    client.get("/login")
    response = client.post("/login", data={"username": "a", "password": "b", "csrf_token": "forged"}, csrf=False)
    assert response.status_code == 400


def test_token_in_the_form_field_works(client, make_user):
    user = make_user()
    token = client.csrf_token()
    response = client.post("/login", data={"username": user.username, "password": DEFAULT_PASSWORD,
                                           "csrf_token": token}, csrf=False)
    assert response.status_code == 303


@pytest.mark.parametrize("path, data", [("/logout", {}), ("/language", {"lang": "en"}),
                                        ("/account/password", {"current_password": DEFAULT_PASSWORD})])
def test_logged_in_posts_need_the_token(logged_in, path, data):
    response = logged_in.post(path, data=data, csrf=False)
    assert response.status_code == 400
    assert logged_in.get("/").status_code == 200  # logout without token did nothing


def test_pages_carry_the_token_for_htmx(logged_in):
    html = logged_in.get("/").get_data(as_text=True)
    assert re.search(r"""hx-headers='\{"X-CSRFToken": "[^"]+"\}'""", html)


# -- language switch: an open redirect would be just as bad as at login -------------------------
@pytest.mark.parametrize("target", ["//evil.example", "http://evil.example", "/\\evil", "javascript:alert(1)"])
def test_language_switch_refuses_foreign_next(client, target):
    response = client.post("/language", data={"lang": "en", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_language_switch_follows_local_next(client):
    response = client.post("/language", data={"lang": "en", "next": "/login?next=/admin/audit/"})
    assert response.headers["Location"] == "/login?next=/admin/audit/"


def test_unknown_language_is_ignored(client):
    client.post("/language", data={"lang": "xx"})
    with client.session_transaction() as session:
        assert "lang" not in session



# -- malformed input ------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/admin/org/users?q=%00", "/admin/audit/?action=auth%00", "/login?next=/%00"])
def test_nul_in_a_query_string_is_a_400_everywhere(client, make_user, login, url):
    from portal.core.roles import ADMIN

    login(client, make_user(roles=(ADMIN,)))
    response = client.get(url)
    assert response.status_code == 400
    assert_security_headers(response, url)


def test_nul_in_a_form_field_is_a_400(client, make_user, login):
    login(client, make_user())
    response = client.post("/account/password", data={"current_password": "a\x00b", "new_password": "x", "confirm": "x"})
    assert response.status_code == 400
