"""The keyed audit chain (issue 8, item 5): an HMAC under a key outside the database, daily anchors outside
the database, and an audit-verify that names the check that failed."""
from __future__ import annotations

import os
import stat
from datetime import date

import pytest
import sqlalchemy as sa

import config
from portal import create_app
from portal.audit import services
from portal.audit.models import CHAIN_HMAC, CHAIN_SHA256, AuditEvent
from portal.audit.services import (CHECK_ANCHOR_FILE, CHECK_HASH, CHECK_HMAC, CHECK_LINK, CHECK_MISSING,
                                   CHECK_TRUNCATION, GENESIS, plain_hash, record, verify_chain, write_anchor)
from portal.core.registry import cron_jobs
from portal.extensions import db
from tests.web import separate_app

STRONG_SECRET = "0123456789abcdef0123456789abcdef-strong"


@pytest.fixture
def anchors(tmp_path, monkeypatch):
    """A private anchor file (the session's instance folder is shared by tests whose rows are rolled back)."""
    path = tmp_path / "audit-anchors.log"
    monkeypatch.setattr(services, "anchor_path", lambda: str(path))
    return path


@pytest.fixture
def chain(make_user, anchors):
    actor = make_user("keyed", display_name="审计员李四")
    for n in range(5):
        record("demo.step", actor=actor, object_type="document", object_id=n, after={"n": n})
    db.session.flush()
    return rows()


def rows() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))


def verify(runner):
    db.session.expire_all()
    result = runner.invoke(args=["portal", "audit-verify"])
    return result, result.output + (getattr(result, "stderr", "") or "")


def rewrite_plain_chain_from(index: int, all_rows: list[AuditEvent], **changes) -> None:
    """What a forger without the key can do: edit one row and recompute the plain SHA-256 chain from there."""
    target = all_rows[index]
    for column, value in changes.items():
        setattr(target, column, value)
    prev = all_rows[index - 1].hash if index else GENESIS
    for row in all_rows[index:]:
        row.prev_hash = prev
        row.hash = plain_hash(row, prev)
        prev = row.hash
    db.session.flush()


# -- the key ------------------------------------------------------------------------------------------
def test_new_rows_are_keyed(chain):
    assert all(row.chain == CHAIN_HMAC for row in chain)
    assert all(row.hash != plain_hash(row, row.prev_hash) for row in chain)
    assert verify_chain().intact


def test_the_key_file_is_created_private_on_first_use(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_AUDIT_KEY", "")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    key = services.audit_key()
    path = tmp_path / "audit.key"
    assert path.is_file() and len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert services.audit_key() == key  # read back, not replaced


def test_the_environment_key_wins_over_the_file(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_AUDIT_KEY", "e" * 40)
    assert services.audit_key() == b"e" * 40


def test_a_short_key_file_is_refused(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_AUDIT_KEY", "")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    (tmp_path / "audit.key").write_text("short\n")
    with pytest.raises(services.AuditKeyMissing):
        services.audit_key()


def test_production_never_creates_a_key(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_AUDIT_KEY", "")
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    with pytest.raises(services.AuditKeyMissing):
        services.audit_key()
    assert not (tmp_path / "audit.key").exists()


@pytest.fixture
def production(monkeypatch, tmp_path):
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", config.ProductionConfig.SECRET_KEY)
    monkeypatch.setattr(config.ProductionConfig, "PORTAL_AUDIT_KEY", config.ProductionConfig.PORTAL_AUDIT_KEY)
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.delenv("PORTAL_AUDIT_KEY", raising=False)
    return monkeypatch


def test_production_refuses_to_start_without_an_audit_key(production, tmp_path):
    with pytest.raises(RuntimeError) as excinfo:
        create_app("production", overrides={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"})
    message = str(excinfo.value)
    assert "PORTAL_AUDIT_KEY" in message and "audit.key" in message and "\n" not in message


def test_production_refuses_a_short_audit_key(production, tmp_path):
    production.setenv("PORTAL_AUDIT_KEY", "too-short")
    with pytest.raises(RuntimeError) as excinfo:
        create_app("production", overrides={"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"})
    assert "PORTAL_AUDIT_KEY" in str(excinfo.value) and "too-short" not in str(excinfo.value)


@pytest.mark.parametrize("source", ["environment", "file"])
def test_production_starts_with_an_audit_key(production, tmp_path, source):
    if source == "environment":
        production.setenv("PORTAL_AUDIT_KEY", "p" * 40)
    else:
        (tmp_path / "audit.key").write_text("f" * 64 + "\n")
    with separate_app(tmp_path, "production") as prod:
        assert prod.config["ENV_NAME"] == "production"


# -- tampering --------------------------------------------------------------------------------------
def test_tampering_and_recomputing_the_plain_chain_is_detected(runner, chain):
    """The attack of the issue: edit a row and recompute SHA-256 from there. Without the key it fails."""
    rewrite_plain_chain_from(2, chain, summary={"after": {"n": 99}})
    result, output = verify(runner)
    assert result.exit_code == 2
    assert f"BROKEN at event {chain[2].id}" in output
    assert f"check failed: {CHECK_HMAC}" in output
    report = verify_chain()
    assert report.check == CHECK_HMAC and report.broken_id == chain[2].id and report.checked == 2


def test_recomputing_with_another_key_is_detected(chain):
    target = chain[3]
    target.actor_name = "别人"
    prev = chain[2].hash
    for row in chain[3:]:
        row.prev_hash, row.hash = prev, services.keyed_hash(row, prev, b"x" * 40)
        prev = row.hash
    db.session.flush()
    report = verify_chain()
    assert report.check == CHECK_HMAC and report.broken_id == target.id


def test_downgrading_rows_to_the_legacy_chain_is_detected(chain):
    rewrite_plain_chain_from(3, chain, chain=CHAIN_SHA256)
    for row in chain[3:]:
        row.chain = CHAIN_SHA256
    rewrite_plain_chain_from(3, chain)
    report = verify_chain()
    assert report.check == CHECK_HMAC and report.broken_id == chain[3].id
    assert "unkeyed" in report.reason


def test_broken_link_and_missing_row_are_named(runner, chain):
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == chain[1].id).values(prev_hash="f" * 64))
    result, output = verify(runner)
    assert f"BROKEN at event {chain[1].id}" in output and f"check failed: {CHECK_LINK}" in output
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == chain[1].id).values(prev_hash=chain[0].hash))
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == chain[3].id))
    result, output = verify(runner)
    assert f"BROKEN at event {chain[3].id}" in output and f"check failed: {CHECK_MISSING}" in output


# -- legacy rows --------------------------------------------------------------------------------------
def test_legacy_rows_verify_with_plain_sha256_and_are_sealed_by_the_first_keyed_row(make_user, anchors):
    """Rows written before the key existed carry chain = 1 (the migration's server default)."""
    actor = make_user()
    for n in range(3):
        record("demo.old", actor=actor, extra={"n": n})
    old = rows()
    prev = GENESIS
    for row in old:  # as they were written before this change
        row.chain, row.prev_hash = CHAIN_SHA256, prev
        row.hash = plain_hash(row, prev)
        prev = row.hash
    db.session.flush()
    record("demo.new", actor=actor)
    assert verify_chain().intact and verify_chain().checked == 4
    # a legacy row edited and its plain hash recomputed: the first keyed row's HMAC covers its hash
    rewrite_plain_chain_from(2, rows()[:3], summary={"n": 7})
    report = verify_chain()
    assert not report.intact and report.broken_id == rows()[3].id and report.check == CHECK_LINK


def test_an_edited_legacy_row_fails_the_hash_check(make_user, anchors):
    actor = make_user()
    record("demo.old", actor=actor)
    [row] = rows()
    row.chain, row.hash = CHAIN_SHA256, plain_hash(row, GENESIS)
    db.session.flush()
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == row.id).values(action="demo.other"))
    report = verify_chain()
    assert report.check == CHECK_HASH and report.broken_id == row.id


# -- anchors ------------------------------------------------------------------------------------------
def test_an_anchor_is_one_private_line_a_day(chain, anchors):
    first = write_anchor(date(2026, 12, 1))
    again = write_anchor(date(2026, 12, 1))
    assert first == again  # once per day
    assert (first.event_id, first.hash) == (chain[-1].id, chain[-1].hash)
    record("demo.later", actor=None)
    second = write_anchor(date(2026, 12, 2))
    lines = anchors.read_text().splitlines()
    assert len(lines) == 2 and second.event_id == chain[-1].id + 1
    day, event_id, event_hash, mac = lines[0].split("\t")
    assert (day, int(event_id), event_hash) == ("2026-12-01", chain[-1].id, chain[-1].hash) and len(mac) == 64
    assert stat.S_IMODE(os.stat(anchors).st_mode) == 0o600
    assert services.latest_anchor() == second
    assert verify_chain().intact and verify_chain().anchors == 2


def test_deleting_the_newest_rows_is_detected_via_the_anchor(runner, chain):
    write_anchor(date(2026, 12, 1))
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id >= chain[3].id))
    result, output = verify(runner)
    assert result.exit_code == 2
    assert f"check failed: {CHECK_TRUNCATION}" in output
    assert f"BROKEN at event {chain[-1].id}" in output and "2026-12-01" in output


def test_deleting_only_the_newest_row_is_detected(chain):
    write_anchor(date(2026, 12, 1))
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == chain[-1].id))
    report = verify_chain()
    assert report.check == CHECK_TRUNCATION and report.broken_id == chain[-1].id


def test_truncating_and_writing_new_rows_is_detected(chain, make_user):
    write_anchor(date(2026, 12, 1))
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id >= chain[3].id))
    db.session.expire_all()
    for n in range(4):  # enough new (validly keyed, if the forger could write through the portal) rows
        record("demo.replacement", actor=None, extra={"n": n})
    report = verify_chain()
    assert report.check == CHECK_TRUNCATION and report.broken_id == chain[-1].id and "differs" in report.reason


def test_a_tampered_anchor_file_is_named(runner, chain, anchors):
    write_anchor(date(2026, 12, 1))
    day, event_id, event_hash, mac = anchors.read_text().rstrip("\n").split("\t")
    anchors.write_text("\t".join([day, str(int(event_id) - 2), event_hash, mac]) + "\n")
    result, output = verify(runner)
    assert result.exit_code == 2
    assert f"check failed: {CHECK_ANCHOR_FILE}" in output and "anchor line 1" in output
    anchors.write_text("garbage\n")
    assert verify_chain().check == CHECK_ANCHOR_FILE
    assert services.latest_anchor() is None


def test_verify_reports_the_anchors_checked(runner, chain):
    write_anchor(date(2026, 12, 1))
    result, output = verify(runner)
    assert result.exit_code == 0, output
    assert "audit chain intact: 5 events verified, 1 anchors checked" in output


def test_the_anchor_command_and_the_daily_job(runner, chain, anchors):
    result = runner.invoke(args=["portal", "audit-anchor"])
    assert result.exit_code == 0 and f"event {chain[-1].id}" in result.output
    job = cron_jobs.get("audit_anchor")
    assert job is not None and job.cron
    assert job.func()["event_id"] == chain[-1].id  # the same day: nothing appended
    assert len(anchors.read_text().splitlines()) == 1


def test_the_admins_digest_shows_the_latest_anchor(chain, make_user):
    from portal.core.roles import ADMIN, QUALITY_MANAGER
    from portal.notify.digest import audit_anchor_section
    from portal.notify.registry import sections

    assert "audit_anchor" in sections
    admin, manager = make_user(roles=(ADMIN,)), make_user(roles=(QUALITY_MANAGER,))
    anchor = write_anchor(date(2026, 12, 1))
    out = audit_anchor_section([admin, manager], date(2026, 12, 2))
    assert list(out) == [admin.id]
    [item] = out[admin.id]
    assert "2026-12-01" in item.title and str(anchor.event_id) in item.title and anchor.hash in item.title


def test_the_digest_warns_when_the_anchor_file_does_not_verify(chain, make_user, anchors):
    from portal.core.roles import ADMIN
    from portal.notify.digest import audit_anchor_section

    admin = make_user(roles=(ADMIN,))
    assert audit_anchor_section([admin], date(2026, 12, 2)) == {}  # no anchor yet: no line
    anchors.write_text("2026-12-01\t1\tabc\tdef\n")
    [item] = audit_anchor_section([admin], date(2026, 12, 2))[admin.id]
    assert "audit-verify" in item.title and "line 1" in item.detail


def test_the_anchor_file_can_live_on_shared_storage(app, tmp_path, monkeypatch):
    from portal.audit.services import anchor_path

    assert anchor_path().endswith("audit-anchors.log")
    shared = tmp_path / "shared" / "anchors.log"
    monkeypatch.setitem(app.config, "PORTAL_AUDIT_ANCHOR_FILE", str(shared))
    assert anchor_path() == str(shared)
    from portal.audit.services import record, write_anchor

    record("test.event", object_type="test", object_id="1")
    write_anchor()
    assert shared.read_text(encoding="utf-8").count("\n") == 1
