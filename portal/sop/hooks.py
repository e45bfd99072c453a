"""What document control plugs in: its pages, the notification kinds, the digest sections 待我审核/批准的文件
and 文件定期评审, the to-dos (reviews, approvals, periodic reviews, copies to return), the jobs that make
approved versions effective and remind of periodic reviews, the audit-trail words and the demo documents."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.core.registry import register_cron, register_demo_seeder
from portal.home.registry import TodoItem, register_todo_provider
from portal.notify.registry import DigestItem, register_digest_section, register_kind
from portal.sop import audit_trail, bp, demo, jobs, services
from portal.web.nav import NavEntry, register_nav

BLUEPRINTS = (bp,)


def _waiting_items(user) -> list[tuple[str, object]]:
    return services.waiting_for([user]).get(user.id, [])


def _label(version) -> str:
    return f"{version.document.code} {version.document.title} v{version.label}"


def _sign_todos(user) -> list[TodoItem]:
    items = []
    for what, version in _waiting_items(user):
        items.append(TodoItem(
            title=(_("Review %(title)s", title=_label(version)) if what == services.REVIEW
                   else _("Approve %(title)s", title=_label(version))),
            url=services.version_path(version), category=_("Documents"), detail=version.change_summary[:120]))
    return items


def _periodic_todos(user) -> list[TodoItem]:
    today = services.local_today()
    return [TodoItem(title=_("Periodic review of %(title)s", title=f"{d.code} {d.title}"),
                     url=services.document_path(d.id), category=_("Documents"),
                     detail=_("Due by %(day)s", day=d.next_review_on.isoformat()), urgent=d.next_review_on < today)
            for d in services.reviews_due(today) if d.department is not None and d.department.head_id == user.id]


def _recall_todos(user) -> list[TodoItem]:
    return [TodoItem(title=_("Return controlled copy no. %(n)d of %(title)s", n=c.number, title=_label(c.version)),
                     url=services.document_path(c.version.document_id) + "#copies", category=_("Documents"),
                     detail=c.holder_name, urgent=True)
            for c in services.copies_to_recall(user)]


def _digest_signing(users, day) -> dict[int, list[DigestItem]]:
    out: dict[int, list[DigestItem]] = {}
    for user_id, items in services.waiting_for(users).items():
        out[user_id] = [DigestItem(
            title=(_("Review %(title)s", title=_label(v)) if what == services.REVIEW
                   else _("Approve %(title)s", title=_label(v))),
            link=services.version_path(v), detail=v.change_summary[:120]) for what, v in items]
    return out


def _digest_periodic(users, day) -> dict[int, list[DigestItem]]:
    ids = {u.id for u in users}
    out: dict[int, list[DigestItem]] = {}
    for document in services.reviews_due(day):
        owner = services.review_owner(document)
        if owner is not None and owner.id in ids:
            out.setdefault(owner.id, []).append(DigestItem(
                title=f"{document.code} {document.title}", link=services.document_path(document.id),
                detail=(_("Overdue since %(day)s", day=document.next_review_on.isoformat())
                        if document.next_review_on < day else _("Due by %(day)s", day=document.next_review_on.isoformat()))))
    return out


def setup() -> None:
    audit_trail.register()
    register_nav(NavEntry(_l("Documents"), "sop.index"), order=25)
    register_kind(services.KIND_REVIEW, _l("Documents to review"))
    register_kind(services.KIND_APPROVAL, _l("Documents to approve"))
    register_kind(services.KIND_RETURNED, _l("My document returned with comments"))
    register_kind(services.KIND_EFFECTIVE, _l("My document took effect"))
    register_kind(services.KIND_PERIODIC, _l("Periodic review of documents"))
    register_kind(services.KIND_RECALL, _l("Controlled copies to return"))
    register_digest_section("sop.signing", _l("Documents awaiting my review or approval"), _digest_signing, order=30)
    register_digest_section("sop.periodic", _l("Documents due for periodic review"), _digest_periodic, order=35)
    register_todo_provider("sop.signing", _sign_todos, order=30)
    register_todo_provider("sop.periodic", _periodic_todos, order=35)
    register_todo_provider("sop.recall", _recall_todos, order=36)
    # 00:00 Asia/Shanghai (rq cron runs with TZ=Asia/Shanghai), then hourly to catch up after downtime.
    register_cron("sop_make_effective", jobs.make_due_versions_effective, cron="0 * * * *")
    register_cron("sop_periodic_review", jobs.periodic_review_reminders, cron="0 7 * * *")
    register_demo_seeder("documents", demo.seed_documents, order=40)
