"""Helpers every domain's tests share; the fixtures built on them live in tests/conftest.py.

* the test client (``PortalClient``: a CSRF token made once per session and sent with every POST) and
  ``login`` / ``client_for`` (a client of its own, logged in);
* responses and markup: ``text``, ``assert_full_page`` / ``assert_partial`` / ``assert_page``, ``flashes``,
  ``field_has_error``, ``HX`` (the headers of an htmx request), ``translated`` / ``msg`` (messages as the portal
  shows them);
* the database: ``count``, ``audit``, ``reloaded``, ``count_queries`` (the SQL a block runs), ``drain_queue``;
* factories: ``create_department``, ``create_user`` (the ``make_*`` fixtures) and ``seed_matrix`` (departments,
  processes and a complete responsibility matrix: the ``matrix_org`` fixture);
* ``sh``: a moment in Asia/Shanghai.

Helpers of one domain stay in that domain's folder (tests/<domain>/helpers.py); no domain imports another's.
"""
from __future__ import annotations

import contextlib
import html
import itertools
import os
import re
import dataclasses
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import session
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf

from portal.extensions import db

if TYPE_CHECKING:
    from portal.org.models import Department, User
    from portal.processes.models import IsoClause, Process

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_PASSWORD = "Passw0rd-test"
#: the headers of an htmx request
HX = {"HX-Request": "true"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: where Flask-WTF keeps the raw CSRF token (WTF_CSRF_FIELD_NAME, the default)
CSRF_SESSION_KEY = "csrf_token"


def service_missing(message: str):
    """Skip locally, fail in CI: a test that needs a service never silently skips there."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a required service must be running)")
    pytest.skip(message)


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock moment in Asia/Shanghai, as an aware UTC datetime (what the services take)."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(timezone.utc)


# -- clients --------------------------------------------------------------------------------------
class PortalClient(FlaskClient):
    """A test client that sends the CSRF token with every POST, as the portal's pages do.

    The token is made once per session, as a page makes it (``generate_csrf``, which keeps the raw token in the
    session and signs it), and reused for as long as the client's session keeps that raw token; a new session
    (login and logout clear it) gets a new one. No page is fetched for it."""

    _csrf: tuple[str, str] | None = None  # (the raw token in the session, the signed token sent)

    def csrf_token(self) -> str:
        """The token a page of the portal would carry for this client's session."""
        with self.session_transaction() as client_session:
            raw = client_session.get(CSRF_SESSION_KEY)
            if raw is None or self._csrf is None or self._csrf[0] != raw:
                # a request context of its own (and an app context: a fresh ``g``, where generate_csrf caches)
                with self.application.app_context(), self.application.test_request_context():
                    if raw is not None:
                        session[CSRF_SESSION_KEY] = raw
                    signed = generate_csrf()
                    made = session[CSRF_SESSION_KEY]
                if raw is None:
                    client_session[CSRF_SESSION_KEY] = made  # saved to the client's cookie, as a page would
                self._csrf = (made, signed)
        return self._csrf[1]

    def logged_in(self) -> bool:
        """Whether this client's session carries a login."""
        with self.session_transaction() as client_session:
            return "_user_id" in client_session

    def open(self, *args, **kwargs):
        """Each request gets its own application context (so its own ``g`` and its own DB session),
        as in production, rather than the one the test holds; the test's session is expired after it,
        so objects the test holds show what the request wrote."""
        db.session.commit()  # what the test set up is visible to the request (a SAVEPOINT release when rolled back)
        ctx = self.application.app_context()
        ctx.push()
        try:
            return super().open(*args, **kwargs)
        finally:
            ctx.pop()
            db.session.expire_all()

    def post(self, *args, csrf: bool = True, **kwargs):
        if csrf:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().post(*args, **kwargs)


def login(client: PortalClient, user, password: str = DEFAULT_PASSWORD):
    """Log the client in through the real login form."""
    response = client.post("/login", data={"username": user.username, "password": password})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return response


def client_for(app, user, password: str = DEFAULT_PASSWORD) -> PortalClient:
    """A fresh client (its own cookie jar) logged in as ``user``."""
    other = app.test_client()
    login(other, user, password)
    return other


# -- responses and markup -------------------------------------------------------------------------
FLASH_RE = re.compile(r'<div class="alert alert-(\w+) alert-dismissible[^"]*" role="alert">\s*(.*?)\s*<button', re.S)
TAG_RE = re.compile(r"<[^>]+>")


def text(response) -> str:
    return response.get_data(as_text=True)


def plain_text(markup: str) -> str:
    """The text of the markup: tags become spaces, entities are unescaped."""
    return html.unescape(TAG_RE.sub(" ", markup))


def plain(markup: str) -> str:
    """``plain_text`` with the white space folded and stripped."""
    return re.sub(r"\s+", " ", plain_text(markup)).strip()


def assert_varies_on_hx(response) -> None:
    vary = [v.strip().lower() for v in (response.headers.get("Vary") or "").split(",")]
    assert "hx-request" in vary, response.headers.get("Vary")


def assert_full_page(response, status: int = 200) -> str:
    body = text(response)
    assert response.status_code == status, body[:800]
    assert "<html" in body
    assert '<html lang="zh-CN">' in body
    assert_varies_on_hx(response)
    return body


def assert_partial(response, status: int = 200) -> str:
    body = text(response)
    assert response.status_code == status, body[:800]
    assert "<html" not in body and "<body" not in body and "navbar" not in body
    assert_varies_on_hx(response)
    return body


def assert_page(response, hx: bool, status: int = 200) -> str:
    """The partial for an htmx request (``hx``), else the full page."""
    return assert_partial(response, status) if hx else assert_full_page(response, status)


def flashes(markup: str) -> list[tuple[str, str]]:
    """(category, text) of the flash messages on a full page."""
    return [(cat, plain_text(msg).strip()) for cat, msg in FLASH_RE.findall(markup)]


def field_has_error(markup: str, field: str) -> bool:
    """The form field ``field`` is rendered as invalid (an input/select, or a checkbox list)."""
    return bool(
        re.search(rf'<(?:input|select|textarea)\b[^>]*class="[^"]*\bis-invalid\b[^"]*"[^>]*\bid="{field}"', markup)
        or re.search(rf'class="checkbox-list is-invalid"><ul[^>]*\bid="{field}"', markup)
    )


def msg(msgid: str, **values) -> str:
    """A message as the portal shows it (in the default locale), so the tests survive translation."""
    from flask_babel import gettext

    return gettext(msgid, **values)


def translated(app, message: str, **variables) -> str:
    """``message`` as the portal shows it by default (zh_Hans_CN when the catalog has it), HTML-escaped."""
    from flask_babel import gettext
    from markupsafe import escape

    with app.test_request_context("/"):
        return str(escape(gettext(message, **variables)))


# -- the database ---------------------------------------------------------------------------------
def count(model, *where) -> int:
    """Rows of ``model`` (those matching ``where`` when given)."""
    stmt = sa.select(sa.func.count()).select_from(model)
    if where:
        stmt = stmt.where(*where)
    return db.session.scalar(stmt)


def reloaded(obj):
    """``obj`` as the database has it now (what the requests and jobs meanwhile wrote)."""
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def audit(action: str | None = None, obj=None, object_type: str | None = None):
    """Audit events, oldest first: of an action, of an object, of a type of object."""
    from portal.audit.models import AuditEvent

    stmt = sa.select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if obj is not None:
        stmt = stmt.where(AuditEvent.object_type == obj.__tablename__, AuditEvent.object_id == str(obj.id))
    if object_type is not None:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    return list(db.session.scalars(stmt))


def audit_count() -> int:
    from portal.audit.models import AuditEvent

    return count(AuditEvent)


@contextlib.contextmanager
def count_queries():
    """``with count_queries() as statements:`` collects the SQL run meanwhile (not the test's savepoints)."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        # SAVEPOINT / ROLLBACK TO are the test harness's transaction, not the code's queries
        if not re.match(r"\s*(SAVEPOINT|RELEASE|ROLLBACK)\b", statement, re.I):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


def drain_queue() -> None:
    """Empty the test Redis's default queue: jobs enqueued after commit (deliveries, digests, reminders) must not
    linger there for a worker of another test to pick up. Redis being down is not the test's concern."""
    import redis

    from portal.extensions import rq

    try:
        rq.queue("default").empty()
    except (redis.RedisError, OSError):
        pass


# -- factories ------------------------------------------------------------------------------------
_seq = itertools.count(1)


def create_department(name: str | None = None, code: str | None = None, parent=None, head=None, active: bool = True):
    from portal.org.models import Department

    n = next(_seq)
    dept = Department(code=code or f"D{n}", name=name or f"测试部门{n}", parent=parent, head=head, active=active)
    db.session.add(dept)
    db.session.flush()
    return dept


def create_user(username: str | None = None, roles=None, department=None, password: str = DEFAULT_PASSWORD,
                display_name: str | None = None, active: bool = True, must_change_password: bool = False):
    """A user (an employee unless ``roles`` say otherwise) in ``department``, or in a department of their own."""
    from portal.core.roles import EMPLOYEE
    from portal.org.accounts import set_password
    from portal.org.models import User

    n = next(_seq)
    username = username or f"user{n}"
    user = User(username=username, display_name=display_name or f"测试用户{n}", email=f"{username}@example.cn",
                department=department if department is not None else create_department(), active=active)
    user.set_roles(set(roles if roles is not None else (EMPLOYEE,)))
    db.session.add(user)
    set_password(user, password, must_change=must_change_password)
    db.session.flush()
    return user


# -- the seeded responsibility matrix (质量职能分配表), for the matrix and the process tests -------
#: department code, name (all CJK, as in a real 质量职能分配表)
MATRIX_DEPARTMENTS = [
    ("ZH", "综合办公室"),
    ("ZL", "质量管理部"),
    ("KF", "客服部"),
    ("YY", "运营部"),
]
#: process code, name, clauses, A, [R...], [C...]   (every other department is I)
MATRIX_PROCESSES = [
    ("T-01", "质量方针与目标管理", ["5.2", "6.2"], "ZL", ["ZL"], ["ZH"]),
    ("T-02", "成文信息控制", ["7.5.3"], "ZL", ["ZH"], ["KF"]),
    ("T-03", "客户投诉处理", ["9.1.2", "10.2"], "KF", ["KF", "YY"], ["ZL"]),
    ("T-04", "柜面业务办理", ["8.5.1"], "YY", ["YY"], ["KF"]),
    ("T-05", "内部审核", ["9.2"], "ZL", ["ZL"], ["ZH", "KF", "YY"]),
    ("T-06", "管理评审", ["9.3"], "ZH", ["ZL"], ["KF", "YY"]),
]


def cell_role(process_id: int, department_id: int) -> str | None:
    """The letter of a cell of the matrix in the database (None for an empty one)."""
    from portal.raci.models import RaciAssignment

    return db.session.scalar(sa.select(RaciAssignment.role).where(
        RaciAssignment.process_id == process_id, RaciAssignment.department_id == department_id))


@dataclasses.dataclass
class MatrixOrg:
    depts: dict[str, Department]
    procs: dict[str, Process]
    clauses: dict[str, IsoClause]
    qm: User
    heads: dict[str, User] = dataclasses.field(default_factory=dict)
    employee: User | None = None

    def role(self, process_code: str, dept_code: str) -> str | None:
        return cell_role(self.procs[process_code].id, self.depts[dept_code].id)


def seed_matrix(make_user=create_user) -> MatrixOrg:
    """Departments (each with a head), processes with clauses, a complete matrix with exactly one A each."""
    from portal.core.roles import DEPT_HEAD, EMPLOYEE, QUALITY_MANAGER
    from portal.org.models import Department
    from portal.processes.clauses import ensure_clauses
    from portal.processes.models import IsoClause, Process
    from portal.raci.models import RaciAssignment

    ensure_clauses(db.session)
    clauses = {c.code: c for c in db.session.scalars(sa.select(IsoClause))}
    depts: dict[str, Department] = {}
    for order, (code, name) in enumerate(MATRIX_DEPARTMENTS):
        dept = Department(code=code, name=name, sort_order=order * 10)
        db.session.add(dept)
        depts[code] = dept
    db.session.flush()
    heads = {}
    for code, dept in depts.items():
        heads[code] = make_user(f"head_{code.lower()}", roles=(DEPT_HEAD,), department=dept,
                                display_name=f"{dept.name}负责人")
        dept.head_id = heads[code].id
    qm = make_user("qm_t", roles=(QUALITY_MANAGER,), department=depts["ZL"], display_name="质量经理")
    employee = make_user("emp_t", roles=(EMPLOYEE,), department=depts["KF"], display_name="客服员工")
    procs: dict[str, Process] = {}
    for order, (code, name, clause_codes, accountable, responsible, consulted) in enumerate(MATRIX_PROCESSES):
        process = Process(code=code, name=name, sort_order=order * 10, clauses=[clauses[c] for c in clause_codes])
        db.session.add(process)
        db.session.flush()
        procs[code] = process
        for dept_code, dept in depts.items():
            role = "A" if dept_code == accountable else "R" if dept_code in responsible else \
                "C" if dept_code in consulted else "I"
            db.session.add(RaciAssignment(process_id=process.id, department_id=dept.id, role=role))
    db.session.commit()  # a SAVEPOINT release inside the test's transaction: a rollback keeps the seed
    return MatrixOrg(depts, procs, clauses, qm, heads, employee)
