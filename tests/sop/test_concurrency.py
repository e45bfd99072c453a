"""Document control under real concurrency (PostgreSQL): two transactions on two connections at the same
moment, as two browser tabs, two people or two job workers would run them.

* Two approvals of the same version: one signature 批准, one effective version; the other approval gets
  Conflict (or PermissionDenied when it starts after the first committed) and leaves nothing behind.
  Through the services, and through two HTTP posts of the approval form (no 500).
* The same approved version made effective twice at once (the hourly job in two workers, or the job and
  an approver): one effective version, the previous one superseded once, one ``document_effective``.
  (Two *different* approved versions of one document cannot exist: ``uq_sop_version_one_open`` counts
  ``approved`` as open. What keeps two versions from being effective together, whatever the code does,
  is ``uq_sop_version_one_effective``: the last test shows it deciding between two connections.)

SQLite serialises writers, so none of this can happen there: the tests are skipped on SQLite, like the
other races of the suite (tests/raci/test_matrix.py), and run in the PostgreSQL leg of ``make test``
(with CI=true a PostgreSQL that is not reachable fails the run, see tests/conftest.py).
"""
from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal import signals
from portal.audit.models import AuditEvent
from portal.audit.services import verify_chain
from portal.core.errors import Conflict, PermissionDenied
from portal.esign.models import Signature
from portal.extensions import db
from portal.notify.models import Notification
from portal.org.models import User
from portal.sop import jobs, services
from portal.sop.models import APPROVED, EFFECTIVE, IN_APPROVAL, OBSOLETE, SUPERSEDED, Document, DocumentVersion
from tests.helpers import DEFAULT_PASSWORD, client_for, translated
from tests.documents import (
    effective_document,
    make_effective,
    next_version,
    register,
    review_all,
)

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
SQLITE_REASON = ("SQLite serialises writers: two transactions can never approve or make a version effective at "
                 "the same moment there (run with TEST_DATABASE_URL=postgresql…)")
THREAD = "sop-race"

pytestmark = pytest.mark.usefixtures("drain_queue")  # the winners' notifications enqueue deliveries


# -- the race -------------------------------------------------------------------------------------------
def _race(app, monkeypatch, actions, *, hold: str | None = None) -> list:
    """Run each action in a thread of its own, in its own application context (own session, own connection),
    all released at the same moment; each commits, or rolls back on an exception. With ``hold`` (a function of
    portal.sop.services), every thread also waits at its first call of it until all have got there: all have
    read and checked before any of them writes, so only the database can pick the winner.

    Returns each action's result or exception, in order."""
    start = threading.Barrier(len(actions))
    held = threading.Barrier(len(actions))
    local = threading.local()
    results: list = [None] * len(actions)
    if hold is not None:
        original = getattr(services, hold)

        def holding(*args, **kwargs):
            if threading.current_thread().name.startswith(THREAD) and not getattr(local, "held", False):
                local.held = True
                held.wait(timeout=20)
            return original(*args, **kwargs)

        monkeypatch.setattr(services, hold, holding)

    def run(i: int, action) -> None:
        with app.app_context():
            try:
                start.wait(timeout=20)
                value = action()
                db.session.commit()
                results[i] = value
            except Exception as exc:  # noqa: BLE001 - every outcome is inspected by the test
                db.session.rollback()
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, a), name=f"{THREAD}-{i}") for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing transaction never finished"
    if hold is not None:
        monkeypatch.setattr(services, hold, original)
    return results


def _committed(**ids) -> dict:
    """Commit what the test set up and forget the session's objects: the threads read it afresh."""
    db.session.commit()
    db.session.remove()
    return ids


def _in_approval(org) -> dict:
    """SOP-KF-001 v1.0, reviewed by the head of 质量管理部, awaiting the approval of the head of 客服部."""
    document = register(org.author, org)
    version = document.latest_version
    services.submit(org.author, version)
    review_all(version)
    assert version.status == IN_APPROVAL
    return _committed(document=document.id, version=version.id, approver=org.heads["KF"].id,
                      author=org.author.id)


def _approve(ids: dict):
    def action():
        version = db.session.get(DocumentVersion, ids["version"])
        return services.approve(db.session.get(User, ids["approver"]), version, DEFAULT_PASSWORD,
                                services.ApprovalChoice()).id  # the signature's
    return action


def _approval_signatures(version_id: int) -> list[Signature]:
    return list(db.session.scalars(sa.select(Signature).where(
        Signature.object_type == "sop_version", Signature.object_id == str(version_id),
        Signature.meaning == "approve")))


def _events(action: str, *, object_id: int | None = None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == action)
    if object_id is not None:
        stmt = stmt.where(AuditEvent.object_id == str(object_id))
    return list(db.session.scalars(stmt))


def _effective_ids(document_id: int) -> list[int]:
    return list(db.session.scalars(sa.select(DocumentVersion.id).where(
        DocumentVersion.document_id == document_id, DocumentVersion.status == EFFECTIVE)))


def _assert_one_approval(ids: dict, winner_signature: int) -> None:
    """One version effective, one 批准 signature (the one recorded on the version), one of each event."""
    db.session.expire_all()
    version = db.session.get(DocumentVersion, ids["version"])
    document = db.session.get(Document, ids["document"])
    assert version.status == EFFECTIVE and document.current_version_id == version.id
    assert _effective_ids(ids["document"]) == [version.id]
    signatures = _approval_signatures(version.id)
    assert [s.id for s in signatures] == [winner_signature] == [version.approved_signature_id]
    assert version.approver_id == ids["approver"]
    assert len(_events("sop.approve", object_id=version.id)) == 1
    assert len(_events("sop.effective", object_id=version.id)) == 1
    assert len([e for e in _events("esign.sign") if (e.summary or {}).get("meaning") == "approve"]) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.kind == services.KIND_EFFECTIVE, Notification.recipient_id == ids["author"])) == 1
    report = verify_chain()
    assert report.intact, report


def _count_signal():
    sent: list[int] = []

    def listener(sender, **_kwargs):
        sent.append(sender.id)

    signals.document_effective.connect(listener)
    return sent, listener


# == two approvals of one version ========================================================================
@pytest.mark.committing
@pytest.mark.skipif(not ON_POSTGRES, reason=SQLITE_REASON)
@pytest.mark.parametrize("interleave", [True, False], ids=["both-checked-before-either-signs", "plain-barrier"])
def test_two_simultaneous_approvals_sign_and_take_effect_once(app, org, monkeypatch, interleave):
    assert db.engine.dialect.name == "postgresql"
    ids = _in_approval(org)
    sent, listener = _count_signal()
    try:
        results = _race(app, monkeypatch, [_approve(ids), _approve(ids)], hold="sign" if interleave else None)
    finally:
        signals.document_effective.disconnect(listener)

    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if not isinstance(r, int)]
    assert len(winners) == 1 and len(losers) == 1, results
    [error] = losers
    # Both had read "awaiting approval" before either signed: the conditional UPDATE decides (Conflict). In a
    # plain race the second may also start after the first committed, and then sees nothing left to approve.
    assert isinstance(error, Conflict if interleave else (Conflict, PermissionDenied)), \
        f"{type(error).__name__}: {error}"
    assert sent == [ids["version"]]
    _assert_one_approval(ids, winners[0])


@pytest.mark.committing
@pytest.mark.skipif(not ON_POSTGRES, reason=SQLITE_REASON)
def test_two_simultaneous_approval_posts_one_redirect_one_form_no_500(app, org, monkeypatch):
    """The approval form posted from two tabs at the same moment: one approves (303), the other is shown the
    form again with the conflict (422), not a 500."""
    assert db.engine.dialect.name == "postgresql"
    ids = _in_approval(org)
    version = db.session.get(DocumentVersion, ids["version"])
    url = f"/quality/documents/{ids['document']}/versions/{ids['version']}/approve"
    data = {"password": DEFAULT_PASSWORD, "effective_on": "", "retraining": "required",
            "content_sha256": version.content_sha256}
    approver = db.session.get(User, ids["approver"])
    tabs = [client_for(app, approver), client_for(app, approver)]
    db.session.remove()

    def post(tab):
        return lambda: tab.post(url, data=data)

    responses = _race(app, monkeypatch, [post(tab) for tab in tabs], hold="sign")
    assert not any(isinstance(r, Exception) for r in responses), responses
    assert sorted(r.status_code for r in responses) == [303, 422], [r.status_code for r in responses]
    loser = next(r for r in responses if r.status_code == 422).get_data(as_text=True)
    assert translated(app, "Someone else changed version %(version)s first. Reload the page.", version="1.0") in loser

    db.session.expire_all()
    signatures = _approval_signatures(ids["version"])
    assert len(signatures) == 1
    _assert_one_approval(ids, signatures[0].id)


# == one approved version made effective twice at once ===================================================
def _approved_for_tomorrow(org, *, revision: bool) -> dict:
    """An approved version effective tomorrow: v1.0 of a new document, or v1.1 of an effective one."""
    if revision:
        document = effective_document(org.author, org)
        previous = document.current_version_id
        version = next_version(org.author, document, "## 修订\n\n涉及退款的，二个工作日内办结。\n")
    else:
        document = register(org.author, org)
        previous = None
        version = document.latest_version
    services.submit(org.author, version)
    review_all(version)
    tomorrow = services.local_today() + timedelta(days=1)
    services.approve(org.heads["KF"], version, DEFAULT_PASSWORD, services.ApprovalChoice(effective_on=tomorrow))
    assert version.status == APPROVED
    return _committed(document=document.id, version=version.id, previous=previous, day=tomorrow)


@pytest.mark.committing
@pytest.mark.skipif(not ON_POSTGRES, reason=SQLITE_REASON)
@pytest.mark.parametrize("revision", [True, False], ids=["supersedes-the-effective-one", "first-issue"])
def test_one_version_made_effective_twice_at_once_takes_effect_once(app, org, monkeypatch, revision):
    assert db.engine.dialect.name == "postgresql"
    ids = _approved_for_tomorrow(org, revision=revision)

    def make_effective():
        return services.make_effective(db.session.get(DocumentVersion, ids["version"]), today=ids["day"]).id

    sent, listener = _count_signal()
    try:
        results = _race(app, monkeypatch, [make_effective, make_effective], hold="_transition")
    finally:
        signals.document_effective.disconnect(listener)

    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if not isinstance(r, int)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], Conflict), f"{type(losers[0]).__name__}: {losers[0]}"
    assert sent == [ids["version"]]
    db.session.expire_all()
    assert _effective_ids(ids["document"]) == [ids["version"]]
    assert db.session.get(Document, ids["document"]).current_version_id == ids["version"]
    assert len(_events("sop.effective", object_id=ids["version"])) == 1
    if revision:
        assert db.session.get(DocumentVersion, ids["previous"]).status == SUPERSEDED
        assert len(_events("sop.supersede", object_id=ids["previous"])) == 1
    report = verify_chain()
    assert report.intact, report


@pytest.mark.committing
@pytest.mark.skipif(not ON_POSTGRES, reason=SQLITE_REASON)
def test_the_effective_job_in_two_workers_at_once_makes_the_version_effective_once(app, org, monkeypatch):
    """The hourly job started twice (two rq-cron hosts, or a retry) at the same moment: each version in its own
    savepoint; the one that comes second finds it done."""
    assert db.engine.dialect.name == "postgresql"
    ids = _approved_for_tomorrow(org, revision=True)

    def job():
        return jobs.make_due_versions_effective(ids["day"].isoformat())

    results = _race(app, monkeypatch, [job, job], hold="_transition")
    assert not any(isinstance(r, Exception) for r in results), results
    assert sorted(r["effective"] for r in results) == [0, 1], results
    db.session.expire_all()
    assert _effective_ids(ids["document"]) == [ids["version"]]
    assert db.session.get(DocumentVersion, ids["previous"]).status == SUPERSEDED
    assert len(_events("sop.effective", object_id=ids["version"])) == 1
    assert len(_events("sop.supersede", object_id=ids["previous"])) == 1
    assert jobs.make_due_versions_effective(ids["day"].isoformat()) == {"effective": 0, "failed": 0}


# == the database's last guard ============================================================================
@pytest.mark.committing
@pytest.mark.skipif(not ON_POSTGRES, reason=SQLITE_REASON)
def test_the_partial_unique_index_lets_one_of_two_versions_become_effective(app, org):
    """Two connections each make a *different* version of one document effective at the same moment, behind
    the services' back: ``uq_sop_version_one_effective`` makes the second wait for the first, then refuses it."""
    assert db.engine.dialect.name == "postgresql"
    document = effective_document(org.author, org)
    v2 = next_version(org.author, document, "## 修订\n\n涉及退款的，二个工作日内办结。\n")
    make_effective(org.author, v2)
    services.make_obsolete(org.heads["KF"], db.session.get(Document, document.id), DEFAULT_PASSWORD, "业务已取消")
    versions = list(db.session.scalars(sa.select(DocumentVersion.id).where(
        DocumentVersion.document_id == document.id).order_by(DocumentVersion.id)))
    statuses = dict(db.session.execute(sa.select(DocumentVersion.id, DocumentVersion.status)
                                       .where(DocumentVersion.id.in_(versions))).all())
    assert sorted(statuses.values()) == [OBSOLETE, SUPERSEDED] and _effective_ids(document.id) == []
    doc_id = document.id
    _committed()

    start = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def promote(version_id: int) -> None:
        with app.app_context(), db.engine.connect() as conn:
            try:
                with conn.begin():
                    start.wait(timeout=20)
                    conn.execute(sa.update(DocumentVersion).where(DocumentVersion.id == version_id)
                                 .values(status=EFFECTIVE))
                outcomes[version_id] = "committed"
            except Exception as exc:  # noqa: BLE001 - inspected below
                outcomes[version_id] = exc

    threads = [threading.Thread(target=promote, args=(v,), name=f"{THREAD}-{v}") for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    committed = [v for v, o in outcomes.items() if o == "committed"]
    refused = [o for o in outcomes.values() if o != "committed"]
    assert len(committed) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], IntegrityError) and "uq_sop_version_one_effective" in str(refused[0])
    db.session.expire_all()
    assert _effective_ids(doc_id) == committed
