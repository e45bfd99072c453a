"""Notification centre, bell, preferences, digest page, announcements; and the administrators' pages:
settings, 发件箱 (captured email), failed deliveries, job monitor, group-chat webhooks."""
from __future__ import annotations

import uuid
from datetime import date

from flask import abort, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.core.types import utcnow
from portal.notify import admin, bp, services
from portal.notify import webhooks as webhooks_rules
from portal.notify.digest import preview
from portal.notify.forms import AnnouncementForm, SettingsForm, WebhookForm, WebhookHostsForm
from portal.notify.models import MODES, Webhook
from portal.notify.registry import kinds
from portal.core.roles import ADMIN, DEPT_HEAD, QUALITY_MANAGER
from portal.org.services import department_tree
from portal.web.access import acting_user, ensure_role
from portal.web.htmx import arg_int, redirect_to, render, wants_partial
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit
from portal.core.i18n import portal_tz


DELIVERY_STATUS_LABELS = {"pending": _l("Waiting"), "sending": _l("Sending"), "sent": _l("Sent"),
                          "failed": _l("Failed")}
MODE_LABELS = {"instant": _l("Instant email"), "digest": _l("Daily digest only"), "inapp": _l("In the portal only")}



# -- everyone -------------------------------------------------------------------------------------
@bp.route("/notifications/bell")
def bell():
    """The unread count for the navigation bell (polled every 30 s while the tab is visible)."""
    response = make_response(render("notify/_partials/_bell.html", "notify/_partials/_bell.html",
                                    unread=services.unread_count(current_user)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/notifications")
def centre():
    """The notification centre: filters by status and kind, newest first, keyset pagination."""
    status = request.args.get("status", "all")
    kind = request.args.get("kind", "")
    before = arg_int("before", minimum=1)
    items = services.list_notifications(current_user, status=status, kind=kind, before=before, limit=31)
    has_more = len(items) > 30
    items = items[:30]
    return render("notify/centre.html", "notify/_partials/_list.html", items=items, status=status, kind=kind,
                  kinds=kinds(), has_more=has_more, next_before=items[-1].id if items else None,
                  unread=services.unread_count(current_user))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
def mark_read(notification_id: int):
    """Mark one notification read; with ``open`` set, go to its link."""
    note = perform(lambda: services.mark_read(current_user, notification_id)).value
    if request.form.get("open") and note.link:
        return redirect_to(note.link)
    if wants_partial():
        return render("notify/centre.html", "notify/_partials/_item.html", note=note)
    return redirect_to(url_for("notify.centre"))


@bp.route("/notifications/read-all", methods=["POST"])
def mark_all_read():
    """Mark every notification read."""
    n = perform(lambda: services.mark_all_read(current_user)).value
    flash(_("%(n)d notifications marked read.", n=n), "success")
    return redirect_to(url_for("notify.centre"))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
def preferences():
    """Per kind of notification: instant email, digest only, or in the portal only."""
    if request.method == "POST":
        chosen = {kind.key: request.form.get(f"mode-{kind.key}") for kind in kinds()}
        flash_outcome(perform(lambda: services.set_preferences(current_user, chosen)), _("Saved."))
        return redirect_to(url_for("notify.preferences"))
    return render("notify/preferences.html", "notify/preferences.html", rows=services.user_preferences(current_user),
                  modes=MODES, mode_labels=MODE_LABELS, settings=services.get_settings())


@bp.route("/digest")
def my_digest():
    """Today's daily digest (as sent, or as it would be built now)."""
    day = utcnow().astimezone(portal_tz()).date()
    requested = request.args.get("day")
    if requested:
        try:
            day = date.fromisoformat(requested)
        except ValueError:
            abort(404)
        if not 2000 <= day.year <= 2100:  # the digest looks back a week: date.min would overflow
            abort(404)
    return render("notify/digest.html", "notify/digest.html", day=day, sections=preview(current_user, day))


@bp.route("/notifications/announce", methods=["GET", "POST"])
def announce():
    """Send an announcement to a department (or everyone) as notifications, email and group chat."""
    ensure_role(current_user, ADMIN, QUALITY_MANAGER, DEPT_HEAD)
    form = AnnouncementForm()
    choices = [(d.id, d.name) for d in admin.announcement_departments(current_user)]
    if current_user.has_role(ADMIN, QUALITY_MANAGER):
        choices = [(0, _("Everyone"))] + choices
    form.department_id.choices = choices
    if request.method == "GET":
        form.request_id.data = uuid.uuid4().hex
    n = submit(form, lambda: admin.send_announcement(
        acting_user(), form.department_id.data, form.title.data, form.body.data or "", webhook=form.webhook.data,
        request_id=form.request_id.data))
    if n is not FAILED:
        flash(_("Announcement sent to %(n)d people.", n=n), "success")
        return redirect_to(url_for("notify.centre"))
    return render("notify/announce.html", "notify/_partials/_announce_form.html", form=form), form_status(form)


# -- administrators -------------------------------------------------------------------------------
def _admin():
    ensure_role(current_user, ADMIN)


@bp.route("/admin/notify/settings", methods=["GET", "POST"])
def settings():
    """SMTP server, quiet hours and the digest time."""
    _admin()
    current = services.get_settings()
    form = SettingsForm(obj=current)
    saved = submit(form, lambda: services.save_settings(
        acting_user(), smtp_host=form.smtp_host.data or "", smtp_port=form.smtp_port.data,
        smtp_security=form.smtp_security.data, smtp_user=form.smtp_user.data or "",
        smtp_password=form.smtp_password.data or None, smtp_from=form.smtp_from.data,
        quiet_start=form.quiet_start.data, quiet_end=form.quiet_end.data, digest_time=form.digest_time.data,
    ))
    if saved is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("notify.settings"))
    if form.smtp_port.errors:  # one message for "abc", "0" and "70000" alike
        form.smtp_port.errors = [_("The port must be a number from 1 to 65535.")]
    return render("notify/settings.html", "notify/_partials/_settings_form.html", form=form,
                  capturing=not current.smtp_host), form_status(form)


@bp.route("/admin/notify/outbox")
def outbox():
    """发件箱: the emails captured instead of sent (no SMTP server configured)."""
    _admin()
    q = request.args.get("q", "").strip()[:100]
    return render("notify/outbox.html", "notify/_partials/_outbox_rows.html", emails=admin.captured_emails(q), q=q)


@bp.route("/admin/notify/outbox/<int:email_id>")
def outbox_email(email_id: int):
    """One captured email: its text part, and its HTML part as text (never rendered as HTML here)."""
    _admin()
    email = admin.get_captured_email(email_id)
    return render("notify/outbox_email.html", "notify/outbox_email.html", email=email)


@bp.route("/admin/notify/jobs")
def jobs():
    """Queued, scheduled and failed job counts, failed jobs and failed deliveries, with retry buttons."""
    _admin()
    try:
        overview = admin.queue_overview()
    except Exception as exc:  # Redis down: still show the deliveries, which live in the database
        overview = {"error": str(exc)}
    return render("notify/jobs.html", "notify/jobs.html", overview=overview, delivery_counts=admin.delivery_counts(),
                  delivery_status_labels=DELIVERY_STATUS_LABELS,
                  deliveries=admin.failed_deliveries())


@bp.route("/admin/notify/jobs/<job_id>/retry", methods=["POST"])
def retry_job(job_id: str):
    """Re-queue a failed RQ job."""
    flash_outcome(perform(lambda: admin.retry_job(acting_user(), job_id)), _("The job was queued again."))
    return redirect_to(url_for("notify.jobs"))


@bp.route("/admin/notify/deliveries/<int:delivery_id>/retry", methods=["POST"])
def retry_delivery(delivery_id: int):
    """Send a failed delivery again."""
    flash_outcome(perform(lambda: admin.retry_delivery(acting_user(), delivery_id)),
                  _("The delivery will be tried again."))
    return redirect_to(url_for("notify.jobs"))


def _webhook_form(hook: Webhook | None = None) -> WebhookForm:
    form = WebhookForm(obj=hook) if hook is not None and request.method == "GET" else WebhookForm()
    if hook is not None and request.method == "GET":
        form.secret.data = ""  # stored encrypted; never shown again
    form.department_id.choices = [(d.id, d.name) for d, _depth in department_tree(include_inactive=False)]
    return form


def _submit_webhook(form: WebhookForm, hook: Webhook | None):
    """Save the posted robot; a redirect on success, None when the form shows errors."""
    saved = submit(form, lambda: admin.save_webhook(
        acting_user(), hook, department_id=form.department_id.data, platform=form.platform.data, url=form.url.data,
        secret=form.secret.data or "", active=form.active.data))
    if saved is FAILED:
        return None
    flash(_("Saved."), "success")
    return redirect_to(url_for("notify.webhooks"))


@bp.route("/admin/notify/webhooks", methods=["GET", "POST"])
def webhooks():
    """Group-chat robots per department; POST adds one."""
    _admin()
    form = _webhook_form()
    if request.method == "POST" and (done := _submit_webhook(form, None)) is not None:
        return done
    return _webhooks_page(form, WebhookHostsForm(data={"hosts": "\n".join(admin.allowed_webhook_hosts())}),
                          422 if request.method == "POST" else 200)


def _webhooks_page(form: WebhookForm, hosts_form: WebhookHostsForm, status: int):
    return render("notify/webhooks.html", "notify/_partials/_webhook_form.html", form=form, hosts_form=hosts_form,
                  hooks=admin.list_webhooks(), default_hosts=sorted(webhooks_rules.DEFAULT_HOSTS)), status


@bp.route("/admin/notify/webhooks/hosts", methods=["POST"])
def webhook_hosts():
    """Save the allow-list of hosts other than the platforms' robot hosts."""
    _admin()
    hosts_form = WebhookHostsForm()
    saved = submit(hosts_form, lambda: admin.save_allowed_webhook_hosts(acting_user(), hosts_form.hosts.data or ""))
    if saved is FAILED:
        return _webhooks_page(_webhook_form(), hosts_form, 422)
    flash(_("Saved."), "success")
    return redirect_to(url_for("notify.webhooks"))


@bp.route("/admin/notify/webhooks/<int:hook_id>", methods=["GET", "POST"])
def webhook_edit(hook_id: int):
    """Edit or deactivate a group-chat robot."""
    _admin()
    hook = admin.get_webhook(hook_id)
    form = _webhook_form(hook)
    if request.method == "POST" and (done := _submit_webhook(form, hook)) is not None:
        return done
    status = form_status(form)
    return render("notify/webhook_edit.html", "notify/_partials/_webhook_form.html", form=form, hook=hook), status
