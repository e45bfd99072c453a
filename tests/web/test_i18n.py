"""The zh_Hans_CN catalog is complete and current; WTForms speaks Chinese; the language switch works."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.helpers import ROOT

CATALOG = ROOT / "portal" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
WTFORMS_REQUIRED_ZH = "该字段是必填字段。"  # wtforms/locale/zh/LC_MESSAGES/wtforms.po
WTFORMS_REQUIRED_EN = "This field is required."


def _extract_command(output: Path) -> list[str]:
    """The Makefile's ``translations`` target's extraction, with the output redirected to ``output``."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = next(l for l in makefile.splitlines() if "pybabel extract" in l)
    args = shlex.split(line.strip())
    assert args[0].endswith("pybabel") and args[1] == "extract"
    args[0] = str(Path(sys.executable).with_name("pybabel"))
    args[args.index("-o") + 1] = str(output)
    return args


def _read(path: Path):
    with path.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    result = subprocess.run(_extract_command(pot), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return _read(pot)


def _msgid(message):
    return message.id if isinstance(message.id, str) else message.id[0]


def test_extraction_finds_the_portals_messages(extracted):
    ids = {_msgid(m) for m in extracted if m.id}
    assert len(ids) > 50
    assert "Log in" in ids and "Wrong username or password, or too many failed attempts. Please try again later." in ids


def test_catalog_is_not_stale(extracted):
    """Every message in the code and templates is in messages.po (run ``make translations`` and translate)."""
    catalog = _read(CATALOG)
    known = {_msgid(m) for m in catalog if m.id}
    missing = sorted(_msgid(m) for m in extracted if m.id and _msgid(m) not in known)
    assert not missing, f"{len(missing)} messages missing from {CATALOG.relative_to(ROOT)}:\n" + "\n".join(missing)


def test_every_message_is_translated_and_none_is_fuzzy():
    catalog = _read(CATALOG)
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if not all(s and s.strip() for s in strings):
            untranslated.append(_msgid(message))
        if message.fuzzy:
            fuzzy.append(_msgid(message))
    assert not untranslated, f"{len(untranslated)} untranslated:\n" + "\n".join(untranslated)
    assert not fuzzy, f"{len(fuzzy)} fuzzy:\n" + "\n".join(fuzzy)


def test_placeholders_survive_translation():
    catalog = _read(CATALOG)
    wrong = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, (list, tuple)) else [message.id]
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        wanted = set(re.findall(r"%\(\w+\)[sd]", ids[0]))
        for string in strings:
            if string and set(re.findall(r"%\(\w+\)[sd]", string)) != wanted:
                wrong.append((ids[0], string))
    assert not wrong, wrong


def test_wtforms_messages_are_chinese_on_the_login_page(client):
    response = client.post("/login", data={"username": "", "password": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.count(WTFORMS_REQUIRED_ZH) == 2, re.findall(r'invalid-feedback[^>]*>([^<]*)', html)
    assert WTFORMS_REQUIRED_EN not in html


def test_the_expected_wtforms_text_is_what_wtforms_ships():
    import wtforms

    po = Path(wtforms.__file__).parent / "locale" / "zh" / "LC_MESSAGES" / "wtforms.po"
    catalog = _read(po)
    assert catalog[WTFORMS_REQUIRED_EN].string == WTFORMS_REQUIRED_ZH


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)">', html).group(1)


def test_language_switch_to_english_and_back(client):
    page = client.get("/login").get_data(as_text=True)
    assert _lang(page) == "zh-CN"
    assert 'name="lang" value="en"' in page  # the switch offers English

    response = client.post("/language", data={"lang": "en", "next": "/login"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert _lang(page) == "en"
    assert ">Log in<" in page
    assert 'name="lang" value="zh_Hans_CN"' in page and 'value="en"' not in page
    errors = client.post("/login", data={"username": "", "password": ""}).get_data(as_text=True)
    assert WTFORMS_REQUIRED_EN in errors and WTFORMS_REQUIRED_ZH not in errors

    client.post("/language", data={"lang": "zh_Hans_CN", "next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert _lang(page) == "zh-CN"
    assert ">Log in<" not in page  # the catalog translates it
    errors = client.post("/login", data={"username": "", "password": ""}).get_data(as_text=True)
    assert WTFORMS_REQUIRED_ZH in errors


def test_language_choice_survives_login_and_is_stored_on_the_account(client, make_user, login):
    from portal.extensions import db

    user = make_user()
    client.post("/language", data={"lang": "en"})
    login(client, user)
    assert _lang(client.get("/").get_data(as_text=True)) == "en"
    client.post("/language", data={"lang": "zh_Hans_CN"})
    db.session.refresh(user)
    assert user.locale == "zh_Hans_CN"
    client.post("/language", data={"lang": "en"})
    db.session.refresh(user)
    assert user.locale == "en"
    # a new browser session of the same account starts in the account's language
    client.post("/logout")
    with client.session_transaction() as session:
        session.pop("lang", None)
    login(client, user)
    assert _lang(client.get("/").get_data(as_text=True)) == "en"
