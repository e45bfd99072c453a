"""The baseline for ``make bench``: a bare Flask app, no extensions, no database, no session.

GET / renders ``templates/bare_login.html``: the portal's rendered GET /login page (same markup, same
size within a few per cent) turned into a Jinja template with a few variables. The difference between
this app and the portal under the same gunicorn settings is what the portal's extensions, hooks and
templates cost.

    gunicorn --chdir bench -w 2 bare_app:app
"""
from __future__ import annotations

import os
import secrets

from flask import Flask, render_template

HERE = os.path.dirname(os.path.abspath(__file__))

app = Flask(
    __name__,
    template_folder=os.path.join(HERE, "templates"),
    static_folder=os.path.join(os.path.dirname(HERE), "static"),
)
app.jinja_env.trim_blocks = True
app.jinja_env.lstrip_blocks = True

LANGUAGES = {"zh_Hans_CN": "简体中文", "en": "English"}
LABELS = {"username": "用户名", "password": "密码"}


@app.route("/")
def index():
    # A fresh random token per request, the length of a signed Flask-WTF token (the portal's costs more).
    token = secrets.token_urlsafe(68)
    return render_template(
        "bare_login.html",
        lang="zh-CN",
        lang_code="zh_Hans_CN",
        languages=LANGUAGES,
        page_title="登录",
        site_name="服务质量门户",
        token=token,
        next_value="",
        labels=LABELS,
        version="0.1.0",
    )


if __name__ == "__main__":  # a quick look: python bench/bare_app.py
    with app.test_client() as client:
        body = client.get("/").data
        print(len(body), "bytes")
