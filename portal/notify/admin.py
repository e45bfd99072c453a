"""Administration of the notification backbone: announcements, webhooks, the job monitor."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.audit.services import record
from portal.core.errors import NotFound, ServiceError
from portal.extensions import db, rq
from portal.notify import webhooks
from portal.notify.models import FAILED, CapturedEmail, Delivery, Webhook, WebhookAllowedHost
from portal.notify.services import encrypt_secret, notify_many
from portal.org.models import Department, User
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.web.access import ensure_role

ANNOUNCEMENT = "system.announcement"
REQUEST_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def announcement_departments(actor: User) -> list[Department]:
    """The departments the actor may address: all for admins and quality managers, their own for heads."""
    stmt = sa.select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.code)
    if not actor.has_role(ADMIN, QUALITY_MANAGER):
        stmt = stmt.where(Department.head_id == actor.id)
    return list(db.session.scalars(stmt))


def send_announcement(actor: User, department_id: int, title: str, body: str, *, webhook: bool,
                      request_id: str) -> int:
    """Notify every active user of a department (0: everyone). Returns how many were notified."""
    ensure_role(actor, ADMIN, QUALITY_MANAGER, DEPT_HEAD)
    if not REQUEST_ID_RE.match(request_id or ""):
        raise ServiceError((None, _("The form has expired. Reload the page and try again.")))
    title = (title or "").strip()
    if not title:
        raise ServiceError(("title", _("Please enter a title.")))
    allowed = {d.id for d in announcement_departments(actor)}
    if department_id == 0:
        if not actor.has_role(ADMIN, QUALITY_MANAGER):
            raise ServiceError(("department_id", _("You may only address your own department.")))
        stmt = sa.select(User).where(User.active.is_(True))
    else:
        if department_id not in allowed:
            raise ServiceError(("department_id", _("You may only address your own department.")))
        stmt = sa.select(User).where(User.active.is_(True), User.department_id == department_id)
    recipients = list(db.session.scalars(stmt.order_by(User.id)))
    notes = notify_many(recipients, ANNOUNCEMENT, title, body or "", "/notifications",
                        department_id=department_id or None, dedupe_key=f"announcement:{request_id}",
                        webhook=webhook and department_id != 0)
    record("notify.announcement", actor=actor, object_type="announcement", object_id=request_id,
           extra={"department_id": department_id, "title": title, "recipients": len(notes)})
    return len(notes)


# -- webhooks -------------------------------------------------------------------------------------
def save_webhook(actor: User, hook: Webhook | None, *, department_id: int, platform: str, url: str, secret: str,
                 active: bool) -> Webhook:
    ensure_role(actor, ADMIN)
    errors = []
    if db.session.get(Department, department_id) is None:
        errors.append(("department_id", _("Unknown department.")))
    if platform not in webhooks.PLATFORMS:
        errors.append(("platform", _("Choose WeCom, DingTalk or Feishu.")))
    try:
        url = webhooks.validate_url(url)
        webhooks.check_target(url, allowed_webhook_hosts(), saving=True)
    except ServiceError as exc:
        errors += exc.errors
    except webhooks.TargetRefused as exc:
        errors.append(("url", webhooks.refusal_message(exc)))
    secret = (secret or "").strip()
    if secret and platform == "wecom":
        errors.append(("secret", _("WeCom robots do not use a signing secret; leave it empty.")))
    if errors:
        raise ServiceError(*errors)
    before = None
    if hook is None:
        hook = Webhook()
        db.session.add(hook)
    else:
        before = {"department_id": hook.department_id, "platform": hook.platform, "url": hook.url, "active": hook.active}
    hook.department_id, hook.platform, hook.url, hook.active = department_id, platform, url, active
    if secret or platform == "wecom":  # an empty secret on edit keeps the stored one
        hook.secret = encrypt_secret(secret)
    db.session.flush()
    record("webhook.update" if before else "webhook.create", hook, actor=actor, before=before,
           after={"department_id": department_id, "platform": platform, "url": url, "active": active})
    return hook


def allowed_webhook_hosts() -> list[str]:
    """Hosts besides the platforms' robot hosts that robots may post to (the administrators' allow-list)."""
    return list(db.session.scalars(sa.select(WebhookAllowedHost.host).order_by(WebhookAllowedHost.host)))


def save_allowed_webhook_hosts(actor: User, text: str) -> list[str]:
    """Replace the allow-list with the hosts in ``text`` (one per line, or separated by commas or spaces)."""
    ensure_role(actor, ADMIN)
    hosts, bad = [], []
    for item in re.split(r"[\s,;，；]+", text or ""):
        if not item:
            continue
        host = webhooks.normalize_host(item)
        if host is None:
            bad.append(item)
        elif host not in hosts:
            hosts.append(host)
    if bad:
        raise ServiceError(("hosts", _("Not a host name or IP address: %(items)s. Enter host names only, "
                                       "without https:// or a path.", items=" ".join(bad[:5]))))
    if len(hosts) > 100:
        raise ServiceError(("hosts", _("At most 100 hosts may be allowed.")))
    before = allowed_webhook_hosts()
    if sorted(hosts) == before:
        return before
    db.session.execute(sa.delete(WebhookAllowedHost))
    for host in hosts:
        db.session.add(WebhookAllowedHost(host=host, created_by_id=actor.id))
    db.session.flush()
    record("webhook.allowlist_update", actor=actor, object_type="webhook_allowlist", object_id="robots",
           before={"hosts": before}, after={"hosts": sorted(hosts)})
    return sorted(hosts)


def get_webhook(hook_id: int) -> Webhook:
    hook = db.session.get(Webhook, hook_id)
    if hook is None:
        raise NotFound()
    return hook


# -- job monitor ----------------------------------------------------------------------------------
def queue_overview() -> dict:
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    queue = rq.queue("default")
    failed = FailedJobRegistry(queue=queue)
    jobs = []
    for job in queue.job_class.fetch_many(failed.get_job_ids(0, 49), connection=rq.connection):
        if job is not None:
            jobs.append({"id": job.id, "func": job.func_name, "ended_at": job.ended_at,
                         "error": (job.latest_result().exc_string if job.latest_result() else "") or ""})
    return {
        "queued": queue.count,
        "started": StartedJobRegistry(queue=queue).count,
        "scheduled": ScheduledJobRegistry(queue=queue).count,
        "failed": failed.count,
        "failed_jobs": jobs,
    }


def retry_job(actor: User, job_id: str) -> None:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    ensure_role(actor, ADMIN)
    try:
        job = Job.fetch(job_id, connection=rq.connection)
        job.requeue()
    except (NoSuchJobError, ValueError):
        raise NotFound()
    record("job.retry", actor=actor, object_type="rq_job", object_id=job_id, extra={"func": job.func_name})


def failed_deliveries(limit: int = 100) -> list[Delivery]:
    return list(db.session.scalars(
        sa.select(Delivery).where(Delivery.status == FAILED).order_by(Delivery.id.desc()).limit(limit)
    ))


def retry_delivery(actor: User, delivery_id: int) -> None:
    from portal.notify.delivery import retry_failed
    from portal.notify.jobs import deliver_batch

    ensure_role(actor, ADMIN)
    if not retry_failed(delivery_id):
        raise NotFound()
    record("delivery.retry", actor=actor, object_type="delivery", object_id=delivery_id)
    rq.enqueue_after_commit(deliver_batch, [delivery_id])


# -- 发件箱 and the job monitor -------------------------------------------------------------------
def captured_emails(query: str = "", limit: int = 100) -> list[CapturedEmail]:
    """The newest captured emails, optionally those whose recipient or subject contains ``query``."""
    stmt = sa.select(CapturedEmail).order_by(CapturedEmail.id.desc()).limit(limit)
    if query:
        stmt = stmt.where(sa.or_(CapturedEmail.to.icontains(query, autoescape=True),
                                 CapturedEmail.subject.icontains(query, autoescape=True)))
    return list(db.session.scalars(stmt))


def get_captured_email(email_id: int) -> CapturedEmail:
    email = db.session.get(CapturedEmail, email_id)
    if email is None:
        raise NotFound()
    return email


def delivery_counts() -> dict[str, int]:
    """{status: number of deliveries}."""
    return dict(db.session.execute(sa.select(Delivery.status, sa.func.count()).group_by(Delivery.status)).all())


def list_webhooks() -> list[Webhook]:
    return list(db.session.scalars(sa.select(Webhook).order_by(Webhook.department_id, Webhook.id)))
