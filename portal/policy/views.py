"""质量方针: the current policy and its acknowledgement for everyone; versions, approval (e-signature),
publication for quality managers and administrators; acknowledgement rates and reminders for them and
(their own department) for department heads."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _

from portal.esign.services import MEANINGS, signatures_for
from portal.policy import bp, services
from portal.core.forms import ConfirmForm
from portal.policy.forms import ApproveForm, PolicyForm
from portal.policy.models import APPROVED, DRAFT
from portal.web.access import acting_user
from portal.web.htmx import redirect_to, render, wants_partial
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit



# -- everyone -------------------------------------------------------------------------------------
def _current_context(**extra) -> dict:
    policy = services.current_policy()
    actor = acting_user()
    context = dict(
        policy=policy,
        ack=services.acknowledgement_of(actor, policy),
        form=ConfirmForm(),
        can_manage=services.is_manager(actor),
        can_view_rates=actor.has_role(*services.RATE_VIEWERS),
    )
    context.update(extra)
    return context


@bp.route("/")
def index():
    """The current quality policy, for everyone, with the “I have read and understood” button."""
    return render("policy/index.html", "policy/_partials/_current.html", **_current_context())


@bp.route("/<int:policy_id>/acknowledge", methods=["POST"])
def acknowledge(policy_id: int):
    """Acknowledge a published version; repeating it changes nothing."""
    policy = services.get_policy(acting_user(), policy_id)
    ConfirmForm()  # CSRF is checked globally; the form documents the contract
    outcome = perform(lambda: services.acknowledge(acting_user(), policy))
    if outcome.failed:
        if wants_partial():
            return render("policy/index.html", "policy/_partials/_ack.html",
                          policy=services.get_policy(acting_user(), policy_id), ack=None, form=ConfirmForm(),
                          error=outcome.message), 422
        flash(outcome.message, "danger")
        return redirect_to(url_for("policy.index"))
    ack, created = outcome.value
    if wants_partial():
        return render("policy/index.html", "policy/_partials/_ack.html", policy=policy, ack=ack, form=None,
                      just_acknowledged=created)
    if created:
        flash(_("Thank you: you have acknowledged version %(version)d of the quality policy.", version=policy.version),
              "success")
    return redirect_to(url_for("policy.index"))


# -- versions (quality managers and administrators) ----------------------------------------------
@bp.route("/versions")
def versions():
    """Every version with its status, approval signature and publication."""
    items = services.list_versions(acting_user())
    return render("policy/versions.html", "policy/_partials/_versions.html",
                  items=items, open_version=services.open_version())


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Start the next version as a draft, from the current published text."""
    title, body = services.draft_defaults(acting_user())
    form = PolicyForm(title=title, body=body) if request.method == "GET" else PolicyForm()
    policy = submit(form, lambda: services.create_draft(acting_user(), form.title.data, form.body.data))
    if policy is not FAILED:
        flash(_("Draft version %(version)d created.", version=policy.version), "success")
        return redirect_to(url_for("policy.detail", policy_id=policy.id))
    return render("policy/form.html", "policy/_partials/_form.html", form=form, policy=None,
                  action=url_for("policy.new")), form_status(form)


def _detail_context(policy, approve_form: ApproveForm | None = None) -> dict:
    manager = services.is_manager(acting_user())
    if approve_form is None and services.may_approve(acting_user(), policy):
        approve_form = ApproveForm(content_sha256=services.policy_content_hash(policy))
    return dict(
        policy=policy,
        can_manage=manager,
        approve_form=approve_form,
        own_draft=manager and policy.status == DRAFT and acting_user().id in services.authors_of(policy),
        publish_form=ConfirmForm() if manager and policy.status == APPROVED else None,
        signatures=signatures_for(services.SIGNATURE_OBJECT, policy.id),
        meaning_label=MEANINGS[services.APPROVE_MEANING],
        meanings=MEANINGS,
        content_sha256=services.policy_content_hash(policy),
    )


@bp.route("/<int:policy_id>")
def detail(policy_id: int):
    """One version: its text, status and signatures; for managers the edit, approve and publish actions."""
    policy = services.get_policy(acting_user(), policy_id)
    return render("policy/detail.html", "policy/_partials/_detail.html", **_detail_context(policy))


@bp.route("/<int:policy_id>/edit", methods=["GET", "POST"])
def edit(policy_id: int):
    """Edit a draft (other versions are frozen)."""
    policy = services.get_managed_policy(acting_user(), policy_id)
    if not policy.is_editable:
        flash(_("Only a draft can be edited."), "warning")
        return redirect_to(url_for("policy.detail", policy_id=policy.id))
    form = PolicyForm(obj=policy) if request.method == "GET" else PolicyForm()
    if submit(form, lambda: services.update_draft(acting_user(), policy, form.title.data, form.body.data)) is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("policy.detail", policy_id=policy.id))
    status = form_status(form)
    return render("policy/form.html", "policy/_partials/_form.html", form=form, policy=policy,
                  action=url_for("policy.edit", policy_id=policy.id)), status


@bp.route("/<int:policy_id>/approve", methods=["POST"])
def approve(policy_id: int):
    """Approve a draft with an electronic signature (password again, meaning 批准)."""
    policy = services.get_managed_policy(acting_user(), policy_id)
    form = ApproveForm()
    # A wrong password is a SignatureRejected, which submit() commits: the attempt counts towards the lockout.
    if submit(form, lambda: services.approve_policy(acting_user(), policy, form.password.data,
                                                    seen_sha256=form.content_sha256.data or None)) is not FAILED:
        flash(_("Version %(version)d approved. It can now be published.", version=policy.version), "success")
        return redirect_to(url_for("policy.detail", policy_id=policy.id))
    policy = services.get_managed_policy(acting_user(), policy_id)
    return render("policy/detail.html", "policy/_partials/_approve_form.html",
                  **_detail_context(policy, approve_form=form)), 422


@bp.route("/<int:policy_id>/publish", methods=["POST"])
def publish(policy_id: int):
    """Publish an approved version; the previous one is superseded."""
    policy = services.get_managed_policy(acting_user(), policy_id)
    ConfirmForm()
    outcome = flash_outcome(perform(lambda: services.publish_policy(acting_user(), policy)),
                            _("Version %(version)d is published; every employee is asked to acknowledge it.",
                              version=policy.version))
    return redirect_to(url_for("policy.detail", policy_id=policy_id) if outcome.failed else url_for("policy.index"))


# -- acknowledgement rates (managers: all departments; heads: their own) -------------------------
@bp.route("/acknowledgements")
def rates():
    """Acknowledgement rate of the published version per department (active users only)."""
    report = services.acknowledgement_rates(acting_user(), services.current_policy())
    return render("policy/rates.html", "policy/_partials/_rates.html", report=report)


def _pending_page(department_id: int, status: int = 200, **extra):
    policy = services.current_policy()
    dept, users = services.non_acknowledgers(acting_user(), policy, department_id)
    return render("policy/pending.html", "policy/_partials/_pending.html", policy=policy, dept=dept, users=users,
                  form=ConfirmForm(), **extra), status


@bp.route("/acknowledgements/<int:department_id>")
def pending(department_id: int):
    """Who in a department has not acknowledged the published version yet."""
    return _pending_page(department_id)


@bp.route("/acknowledgements/<int:department_id>/remind", methods=["POST"])
def remind(department_id: int):
    """Remind the department's non-acknowledgers (once per version, department and day)."""
    ConfirmForm()
    outcome = perform(lambda: services.send_reminders(acting_user(), services.current_policy(), department_id))
    count = outcome.value
    if outcome.failed:
        message, category = outcome.message, "danger"
    elif count:
        message, category = _("%(n)d colleagues were reminded.", n=count), "success"
    else:
        message, category = _("Nobody to remind: everyone pending was already reminded today."), "info"
    if wants_partial():
        return _pending_page(department_id, 422 if category == "danger" else 200, notice=message, notice_category=category)
    flash(message, category)
    return redirect_to(url_for("policy.pending", department_id=department_id))
