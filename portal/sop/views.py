"""流程与规范: the document register, documents and their versions, review and approval with electronic
signatures, diffs, files and PDFs, controlled copies. Views parse, call a service and render."""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _

from portal.core.forms import ConfirmForm
from portal.esign.services import MEANINGS
from portal.sop import bp, content, lookups, services
from portal.sop.access import (is_approver, is_controller, is_reviewer, may_author, may_edit_version, may_manage_copies,
                               may_see_history)
from portal.sop.forms import (ApproveForm, BulkApproveForm, CopyForm, CopyReturnForm, DocumentForm,
                              ExternalEditionForm, NewVersionForm, ObsoleteForm, ReturnForm, ReviewerForm, SignForm,
                              VersionForm)
from portal.sop.registry import panels_for
from portal.sop.models import (CONFIDENTIALITY_LABELS, DOC_TYPES, DRAFT, EFFECTIVE, IN_APPROVAL, IN_REVIEW,
                               STATUS_LABELS, TYPE_LABELS)
from portal.web.access import acting_user
from portal.web.downloads import send_download
from portal.web.htmx import arg_int, redirect_to, render, wants_partial
from portal.web.submit import FAILED, flash_outcome, form_status, perform, submit


# -- the register ---------------------------------------------------------------------------------
def _filters() -> services.DocumentFilters:
    args = request.args
    return services.DocumentFilters(
        q=(args.get("q") or "")[:100], doc_type=args.get("type") if args.get("type") in DOC_TYPES else "",
        department_id=arg_int("department") or None, process_id=arg_int("process") or None,
        status=(args.get("status") or "")[:20], review_due=args.get("review_due") == "1",
        page=arg_int("page", 1, minimum=1, maximum=100_000) or 1)


@bp.route("/")
def index():
    """文件清单: active search over titles and content, filters, pages."""
    filters = _filters()
    result = services.search_register(acting_user(), filters)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("sop/index.html", "sop/_partials/_list.html", result=result, filters=filters, args=args,
                  departments=lookups.departments(), processes=lookups.processes(),
                  type_labels=TYPE_LABELS, status_labels=STATUS_LABELS,
                  can_register=services.may_register(acting_user()))


def _document_form(form: DocumentForm, actor) -> DocumentForm:
    form.department_id.choices = lookups.department_choices(None if is_controller(actor) else actor.department_id)
    form.process_id.choices = [("", _("— none —"))] + lookups.process_choices()
    return form


def _fields(form: DocumentForm) -> services.DocumentFields:
    return services.DocumentFields(
        title=form.title.data or "", doc_type=form.doc_type.data or "", department_id=form.department_id.data,
        process_id=form.process_id.data, confidentiality=form.confidentiality.data or "",
        review_period_months=form.review_period_months.data or 0, tags=form.tags.data or "",
        issuer=form.issuer.data or "", edition=form.edition.data or "", code=form.code.data or "")


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Register a document; its first version starts as a draft."""
    actor = acting_user()
    if not services.may_register(actor):
        abort(403)
    form = DocumentForm()
    if request.method == "GET":
        form.request_key.data = services.new_request_key()
        form.department_id.data = actor.department_id
    _document_form(form, actor)
    document = submit(form, lambda: services.create_document(actor, _fields(form), request_key=form.request_key.data))
    if document is not FAILED:
        flash(_("%(code)s registered. Write its first version.", code=document.code), "success")
        return redirect_to(url_for("sop.edit_version", document_id=document.id, version_id=document.latest_version_id))
    return render("sop/form.html", "sop/_partials/_document_form.html", form=form, document=None,
                  action=url_for("sop.new")), form_status(form)


@bp.route("/<int:document_id>/edit", methods=["GET", "POST"])
def edit(document_id: int):
    actor = acting_user()
    document = services.get_document(actor, document_id)
    if not may_author(actor, document):
        abort(403)
    form = DocumentForm(obj=document) if request.method == "GET" else DocumentForm()
    if request.method == "GET":
        form.tags.data = "，".join(document.tag_list)
    form.doc_type.data = document.doc_type  # shown disabled: the type of a registered document does not change
    _document_form(form, actor)
    if submit(form, lambda: services.update_document(actor, document, _fields(form))) is not FAILED:
        flash(_("Saved."), "success")
        return redirect_to(url_for("sop.detail", document_id=document.id))
    return render("sop/form.html", "sop/_partials/_document_form.html", form=form, document=document,
                  action=url_for("sop.edit", document_id=document.id)), form_status(form)


# -- a document and its versions ------------------------------------------------------------------
def _version_context(document, version, **forms) -> dict:
    actor = acting_user()
    html, _text = services.version_content(version) if version is not None else ("", "")
    context = dict(document=document, version=version, html=html, versions=services.visible_versions(actor, document),
                   signatures=services.signature_manifest(version) if version is not None else [],
                   meanings=MEANINGS, can_author=may_author(actor, document),
                   can_copies=may_manage_copies(actor, document), can_history=may_see_history(actor),
                   copies=services.copies_of(document) if may_manage_copies(actor, document) else [],
                   open_version=services.open_version(document), confidentiality_labels=CONFIDENTIALITY_LABELS,
                   panels=panels_for(document, version, actor))
    if version is None:
        return context | forms
    fingerprint = version.content_sha256
    if version.status == DRAFT and may_edit_version(actor, version):
        context["submit_form"] = ConfirmForm()
        if document.is_external:
            context["edition_form"] = forms.get("edition_form") or ExternalEditionForm()
        else:
            reviewer_form = forms.get("reviewer_form") or ReviewerForm()
            reviewer_form.user_id.choices = [("", _("— choose —"))] + lookups.user_choices()
            context["reviewer_form"] = reviewer_form
    if version.status == IN_REVIEW and is_reviewer(actor, version, pending_only=True):
        context["review_form"] = forms.get("review_form") or SignForm(content_sha256=fingerprint)
        context["return_form"] = forms.get("return_form") or ReturnForm()
    if version.status == IN_APPROVAL and is_approver(actor, document):
        if actor.id == version.author_id:
            context["own_version"] = True
        else:
            context["approve_form"] = forms.get("approve_form") or ApproveForm(content_sha256=fingerprint)
            context["return_form"] = forms.get("return_form") or ReturnForm()
    if version.status == EFFECTIVE:
        if may_manage_copies(actor, document):
            copy_form = forms.get("copy_form") or CopyForm(request_key=services.new_request_key())
            copy_form.holder_user_id.choices = [("", _("— a place instead —"))] + lookups.user_choices()
            context["copy_form"] = copy_form
        if services.may_review_periodically(actor, document):
            context["periodic_form"] = forms.get("periodic_form") or SignForm(content_sha256=fingerprint)
    if not document.is_obsolete and (is_controller(actor) or is_approver(actor, document)):
        context["obsolete_form"] = forms.get("obsolete_form") or ObsoleteForm()
    if may_author(actor, document) and context["open_version"] is None and not document.is_obsolete:
        context["new_version_form"] = NewVersionForm()
    context["return_copy_form"] = CopyReturnForm()
    return context | {k: v for k, v in forms.items() if k not in context}


def _page(document, version, status: int = 200, partial: str = "sop/_partials/_document.html", **forms):
    return render("sop/document.html", partial, **_version_context(document, version, **forms)), status


@bp.route("/<int:document_id>")
def detail(document_id: int):
    """A document: its effective version (for those working on it, the latest they may see)."""
    actor = acting_user()
    document = services.get_document(actor, document_id)
    version = document.current_version
    if version is None:
        visible = services.visible_versions(actor, document)
        version = visible[0] if visible else None
    return _page(document, version)


@bp.route("/<int:document_id>/versions/<int:version_id>")
def version(document_id: int, version_id: int):
    """One version: content, signatures, and what the actor may do with it."""
    actor = acting_user()
    document = services.get_document(actor, document_id)
    return _page(document, services.get_version(actor, document_id, version_id))


def _lookup(document_id: int, version_id: int):
    """(actor, document, version) for a version the actor may read (else 404)."""
    actor = acting_user()
    document = services.get_document(actor, document_id)
    return actor, document, services.get_version(actor, document_id, version_id)


@bp.route("/<int:document_id>/versions/new", methods=["POST"])
def new_version(document_id: int):
    actor = acting_user()
    document = services.get_document(actor, document_id)
    form = NewVersionForm()
    outcome = flash_outcome(perform(lambda: services.new_version(actor, document, major=form.change.data == "major")),
                            _("A new draft version was started."))
    if outcome.failed:
        return redirect_to(url_for("sop.detail", document_id=document_id))
    return redirect_to(url_for("sop.edit_version", document_id=document_id, version_id=outcome.value.id))


@bp.route("/<int:document_id>/versions/<int:version_id>/edit", methods=["GET", "POST"])
def edit_version(document_id: int, version_id: int):
    """Edit a draft's text, change summary and attached file."""
    actor, document, version = _lookup(document_id, version_id)
    if not may_edit_version(actor, version):
        abort(403)
    if version.status != DRAFT:
        flash(_("Only a draft can be edited: signed content never changes."), "warning")
        return redirect_to(url_for("sop.version", document_id=document_id, version_id=version_id))
    form = VersionForm(obj=version) if request.method == "GET" else VersionForm()
    upload = None
    if request.method == "POST" and form.file.data and getattr(form.file.data, "filename", ""):
        upload = (form.file.data.filename, form.file.data.read())
    if submit(form, lambda: services.update_draft(actor, version, body=form.body.data or "",
                                                  change_summary=form.change_summary.data or "", upload=upload,
                                                  remove_file=bool(form.remove_file.data))) is not FAILED:
        flash(_("Draft saved."), "success")
        return redirect_to(url_for("sop.version", document_id=document_id, version_id=version_id))
    return render("sop/version_form.html", "sop/_partials/_version_form.html", form=form, document=document,
                  version=version, max_mb=services.max_file_bytes() // (1024 * 1024)), form_status(form)


@bp.route("/<int:document_id>/versions/<int:version_id>/reviewers", methods=["POST"])
def add_reviewer(document_id: int, version_id: int):
    actor, document, version = _lookup(document_id, version_id)
    form = ReviewerForm()
    form.user_id.choices = lookups.user_choices()
    if submit(form, lambda: services.add_reviewer(actor, version, form.user_id.data)) is not FAILED:
        flash(_("Reviewer added."), "success")
        return redirect_to(url_for("sop.version", document_id=document_id, version_id=version_id))
    return _page(document, version, 422, reviewer_form=form)


@bp.route("/<int:document_id>/versions/<int:version_id>/reviewers/<int:user_id>/remove", methods=["POST"])
def remove_reviewer(document_id: int, version_id: int, user_id: int):
    actor, document, version = _lookup(document_id, version_id)
    ConfirmForm()
    flash_outcome(perform(lambda: services.remove_reviewer(actor, version, user_id)), _("Reviewer removed."))
    return redirect_to(url_for("sop.version", document_id=document_id, version_id=version_id))


@bp.route("/<int:document_id>/versions/<int:version_id>/submit", methods=["POST"])
def submit_version(document_id: int, version_id: int):
    """Draft → in review (or straight to approval when the matrix names no reviewers)."""
    actor, document, version = _lookup(document_id, version_id)
    ConfirmForm()
    flash_outcome(perform(lambda: services.submit(actor, version)),
                  _("Submitted: the reviewers and the approver have been notified."))
    return redirect_to(url_for("sop.version", document_id=document_id, version_id=version_id))


def _version_action(document_id: int, version_id: int, form, form_key: str, action, message: str):
    """Post ``form`` on a version: run ``action(actor, version, form)`` (a service call) and go back to the
    version with ``message``; refused, show the version again with the form's errors (422)."""
    actor, document, version = _lookup(document_id, version_id)
    if submit(form, lambda: action(actor, version, form)) is not FAILED:
        flash(message, "success")
        return redirect_to(url_for("sop.version", document_id=document_id, version_id=version_id))
    return _page(document, services.get_version(actor, document_id, version_id), 422, **{form_key: form})


@bp.route("/<int:document_id>/versions/<int:version_id>/review", methods=["POST"])
def review(document_id: int, version_id: int):
    """A reviewer signs 审核 (password again)."""
    return _version_action(document_id, version_id, SignForm(), "review_form", lambda actor, version, form: (
        services.review(actor, version, form.password.data, comment=form.comment.data or "",
                        seen_sha256=form.content_sha256.data or None)), _("Your review signature was recorded."))


@bp.route("/<int:document_id>/versions/<int:version_id>/return", methods=["POST"])
def return_version(document_id: int, version_id: int):
    """A reviewer or the approver returns the version to its author with comments."""
    return _version_action(document_id, version_id, ReturnForm(), "return_form", lambda actor, version, form: (
        services.return_to_draft(actor, version, form.comment.data or "")),
        _("Returned to the author with your comments."))


def _choice(form) -> services.ApprovalChoice:
    return services.ApprovalChoice(effective_on=getattr(form.effective_on, "parsed", None),
                                   retraining_required=form.retraining.data != "none",
                                   retraining_reason=form.retraining_reason.data or "",
                                   comment=form.comment.data or "")


@bp.route("/<int:document_id>/versions/<int:version_id>/approve", methods=["POST"])
def approve(document_id: int, version_id: int):
    """The A department's head signs 批准 (password again), with the effective date and retraining decision."""
    return _version_action(document_id, version_id, ApproveForm(), "approve_form", lambda actor, version, form: (
        services.approve(actor, version, form.password.data, _choice(form),
                         seen_sha256=form.content_sha256.data or None)), _("Approved and signed."))


@bp.route("/<int:document_id>/versions/<int:version_id>/register-edition", methods=["POST"])
def register_edition(document_id: int, version_id: int):
    """An external document's edition becomes the effective one (registered, not approved here)."""
    def action(actor, version, form):
        return services.register_external_edition(actor, version, effective_on=getattr(form.effective_on, "parsed", None))

    return _version_action(document_id, version_id, ExternalEditionForm(), "edition_form", action,
                           _("The edition is registered and effective."))


@bp.route("/<int:document_id>/obsolete", methods=["POST"])
def obsolete(document_id: int):
    """作废 with a reason and an electronic signature."""
    actor = acting_user()
    document = services.get_document(actor, document_id)
    form = ObsoleteForm()
    if submit(form, lambda: services.make_obsolete(actor, document, form.password.data, form.reason.data or "")) \
            is not FAILED:
        flash(_("%(code)s is obsolete; its paper copies are being recalled.", code=document.code), "success")
        return redirect_to(url_for("sop.detail", document_id=document_id))
    document = services.get_document(actor, document_id)
    return _page(document, document.current_version or document.latest_version, 422, obsolete_form=form)


@bp.route("/<int:document_id>/periodic-review", methods=["POST"])
def periodic_review(document_id: int):
    """评审无需修改: signed 定期评审; the next review date moves on."""
    actor = acting_user()
    document = services.get_document(actor, document_id)
    form = SignForm()
    outcome = submit(form, lambda: services.periodic_review(actor, document, form.password.data,
                                                            form.comment.data or ""))
    if outcome is not FAILED:
        flash(_("Periodic review signed; next review by %(day)s.", day=outcome.isoformat()), "success")
        return redirect_to(url_for("sop.detail", document_id=document_id))
    document = services.get_document(actor, document_id)
    return _page(document, document.current_version, 422, periodic_form=form)


# -- files, diffs, PDFs -----------------------------------------------------------------------------
@bp.route("/<int:document_id>/versions/<int:version_id>/file")
def download_file(document_id: int, version_id: int):
    """The attached file, to those who may read the version only."""
    _actor, document, version = _lookup(document_id, version_id)
    if version.file is None:
        abort(404)
    data = services.file_bytes(version)
    ascii_name = f"{document.code}-v{version.label}.{version.file.kind}"
    return send_download(data, version.file.display_name, ascii_name, version.file.mime_type)


@bp.route("/<int:document_id>/versions/<int:version_id>/pdf")
def version_pdf(document_id: int, version_id: int):
    """An uncontrolled print (非受控 仅供参考)."""
    actor, document, version = _lookup(document_id, version_id)
    outcome = perform(lambda: services.version_pdf(actor, version))
    if outcome.failed:
        flash(outcome.message, "danger")
        return redirect_to(url_for("sop.version", document_id=document_id, version_id=version_id))
    data = outcome.value
    return send_download(data, f"{document.code}-{document.title}-v{version.label}.pdf",
                         f"{document.code}-v{version.label}.pdf", "application/pdf")


@bp.route("/<int:document_id>/diff")
def diff(document_id: int):
    """Side by side: the text of two versions (``a`` older, ``b`` newer)."""
    actor = acting_user()
    document = services.get_document(actor, document_id)
    versions = services.visible_versions(actor, document)
    by_id = {v.id: v for v in versions}
    a, b = by_id.get(arg_int("a") or 0), by_id.get(arg_int("b") or 0)
    if a is None or b is None:
        if len(versions) < 2:
            abort(404)
        b, a = (b or versions[0]), (a or versions[1] if versions[1] is not b else versions[0])
    rows = content.side_by_side(a.text, b.text)
    return render("sop/diff.html", "sop/_partials/_diff.html", document=document, versions=versions, a=a, b=b,
                  rows=rows)


# -- controlled copies ----------------------------------------------------------------------------
@bp.route("/<int:document_id>/versions/<int:version_id>/copies", methods=["POST"])
def issue_copy(document_id: int, version_id: int):
    """Issue a numbered controlled copy; its PDF is printed from the copies list."""
    actor, document, version = _lookup(document_id, version_id)
    form = CopyForm()
    form.holder_user_id.choices = lookups.user_choices()
    copy = submit(form, lambda: services.issue_copy(actor, version, holder_user_id=form.holder_user_id.data,
                                                    holder_place=form.holder_place.data or "",
                                                    request_key=form.request_key.data or ""))
    if copy is not FAILED:
        flash(_("Controlled copy no. %(n)d issued to %(holder)s. Print it from the list of copies.", n=copy.number,
                holder=copy.holder_name), "success")
        return redirect_to(url_for("sop.version", document_id=document_id, version_id=version_id) + "#copies")
    return _page(document, version, 422, copy_form=form)


@bp.route("/<int:document_id>/copies/<int:copy_id>/pdf")
def copy_pdf(document_id: int, copy_id: int):
    """The controlled copy's PDF: 受控副本 第 N 份 and its holder on every page."""
    actor = acting_user()
    document = services.get_document(actor, document_id)
    copy = services.get_copy(actor, document, copy_id)
    outcome = perform(lambda: services.version_pdf(actor, copy.version, copy))
    if outcome.failed:
        flash(outcome.message, "danger")
        return redirect_to(url_for("sop.detail", document_id=document_id) + "#copies")
    data = outcome.value
    return send_download(data, f"{document.code}-{document.title}-v{copy.version.label}-受控副本{copy.number}.pdf",
                         f"{document.code}-v{copy.version.label}-copy{copy.number}.pdf", "application/pdf")


@bp.route("/<int:document_id>/copies/<int:copy_id>/return", methods=["POST"])
def return_copy(document_id: int, copy_id: int):
    """The copy is back (回收)."""
    actor = acting_user()
    document = services.get_document(actor, document_id)
    copy = services.get_copy(actor, document, copy_id)
    form = CopyReturnForm()
    form.validate_on_submit()
    flash_outcome(perform(lambda: services.mark_returned(actor, copy, form.note.data or "")),
                  _("Copy no. %(n)d recorded as returned.", n=copy.number))
    return redirect_to(url_for("sop.detail", document_id=document_id) + "#copies")


# -- bulk approval --------------------------------------------------------------------------------
@bp.route("/approvals", methods=["GET", "POST"])
def approvals():
    """The versions awaiting the actor's approval; approve up to 50 with one password entry."""
    actor = acting_user()
    pending = services.pending_approvals(actor)
    form = BulkApproveForm()
    form.versions.choices = [(v.id, f"{v.document.code} v{v.label}") for v in pending]
    if request.method == "POST":
        signatures = submit(form, lambda: services.bulk_approve(actor, form.versions.data or [], form.password.data,
                                                                _choice(form)))
        if signatures is not FAILED:
            flash(_("%(n)d versions approved and signed.", n=len(signatures)), "success")
            return redirect_to(url_for("sop.approvals"))
    return render("sop/approvals.html", "sop/_partials/_approvals.html", pending=pending, form=form), \
        form_status(form)


@bp.route("/recalls")
def recalls():
    """Controlled copies waiting to come back, that the actor holds or must collect."""
    copies = services.copies_to_recall(acting_user())
    return render("sop/recalls.html", "sop/_partials/_recalls.html", copies=copies, form=CopyReturnForm(),
                  partial=wants_partial())

