"""How document-control events read in the audit trail (called from hooks.setup())."""
from __future__ import annotations

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from portal.audit.registry import register_action_labels, register_field_labels, register_object_type
from portal.extensions import db
from portal.sop.models import (CONFIDENTIALITY_LABELS, STATUS_LABELS, TYPE_LABELS, ControlledCopy, Document,
                               DocumentVersion)


def _documents(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(sa.select(Document.id, Document.code, Document.title).where(Document.id.in_(ids)))
    return {r.id: (f"{r.code} {r.title}", url_for("sop.detail", document_id=r.id)) for r in rows}


def _versions(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(
        sa.select(DocumentVersion.id, DocumentVersion.major, DocumentVersion.minor, Document.id.label("document_id"),
                  Document.code, Document.title)
        .join(Document, Document.id == DocumentVersion.document_id).where(DocumentVersion.id.in_(ids)))
    return {r.id: (f"{r.code} {r.title} v{r.major}.{r.minor}",
                   url_for("sop.version", document_id=r.document_id, version_id=r.id)) for r in rows}


def _copies(ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(
        sa.select(ControlledCopy.id, ControlledCopy.number, DocumentVersion.major, DocumentVersion.minor,
                  Document.id.label("document_id"), Document.code)
        .join(DocumentVersion, DocumentVersion.id == ControlledCopy.version_id)
        .join(Document, Document.id == DocumentVersion.document_id).where(ControlledCopy.id.in_(ids)))
    return {r.id: (f"{r.code} v{r.major}.{r.minor} · {r.number}", url_for("sop.detail", document_id=r.document_id))
            for r in rows}


def register() -> None:
    register_action_labels({
        "sop.document_create": lazy_pgettext("audit action", "Registered a document"),
        "sop.document_update": lazy_pgettext("audit action", "Edited a document's register entry"),
        "sop.version_create": lazy_pgettext("audit action", "Started a document version"),
        "sop.version_update": lazy_pgettext("audit action", "Edited a document draft"),
        "sop.reviewer_add": lazy_pgettext("audit action", "Added a document reviewer"),
        "sop.reviewer_remove": lazy_pgettext("audit action", "Removed a document reviewer"),
        "sop.submit": lazy_pgettext("audit action", "Submitted a document version for review"),
        "sop.review": lazy_pgettext("audit action", "Reviewed a document version"),
        "sop.review_complete": lazy_pgettext("audit action", "Completed the review of a document version"),
        "sop.return": lazy_pgettext("audit action", "Returned a document version with comments"),
        "sop.approve": lazy_pgettext("audit action", "Approved a document version"),
        "sop.effective": lazy_pgettext("audit action", "A document version took effect"),
        "sop.supersede": lazy_pgettext("audit action", "Superseded a document version"),
        "sop.external_register": lazy_pgettext("audit action", "Registered an external document's edition"),
        "sop.version_obsolete": lazy_pgettext("audit action", "Made a document version obsolete"),
        "sop.obsolete": lazy_pgettext("audit action", "Made a document obsolete"),
        "sop.periodic_review": lazy_pgettext("audit action", "Periodic review of a document: no change needed"),
        "sop.copy_issue": lazy_pgettext("audit action", "Issued a controlled copy"),
        "sop.copy_recall": lazy_pgettext("audit action", "Recalled a controlled copy"),
        "sop.copy_return": lazy_pgettext("audit action", "A controlled copy was returned"),
    })
    register_object_type("sop_document", _l("Controlled document"), resolve=_documents, fields={
        "code": lazy_pgettext("audit field", "Code"), "title": _l("Title"),
        "doc_type": lazy_pgettext("audit field", "Document type"),
        "confidentiality": lazy_pgettext("audit field", "Confidentiality"),
        "review_period_months": lazy_pgettext("audit field", "Review period (months)"),
        "tags": lazy_pgettext("audit field", "Tags"), "issuer": lazy_pgettext("audit field", "Issuer"),
        "edition": lazy_pgettext("audit field", "Edition"),
        "next_review_on": lazy_pgettext("audit field", "Next review"),
        "obsolete": lazy_pgettext("audit field", "Obsolete"), "reason": lazy_pgettext("audit field", "Reason"),
        "process_id": lazy_pgettext("audit field", "Process"),
    }, values={"doc_type": TYPE_LABELS, "confidentiality": CONFIDENTIALITY_LABELS})
    register_object_type("sop_version", _l("Document version"), resolve=_versions, fields={
        "status": _l("Status"), "version": lazy_pgettext("audit field", "Version"),
        "change_summary": lazy_pgettext("audit field", "Change summary"),
        "file_id": lazy_pgettext("audit field", "Attached file"),
        "reviewers": lazy_pgettext("audit field", "Reviewers"),
        "comment": lazy_pgettext("audit field", "Comment"),
        "effective_on": lazy_pgettext("audit field", "Effective date"),
        "retraining_required": lazy_pgettext("audit field", "Requires retraining"),
        "retraining_reason": lazy_pgettext("audit field", "Why no retraining"),
        "based_on": lazy_pgettext("audit field", "Based on version"),
        "body_sha256": lazy_pgettext("audit field", "Text fingerprint"),
        "edition": lazy_pgettext("audit field", "Edition"),
        "supersedes": lazy_pgettext("audit field", "Supersedes version"),
        "superseded_by": lazy_pgettext("audit field", "Superseded by version"),
    }, values={"status": STATUS_LABELS})
    register_object_type("sop_copy", _l("Controlled copy"), resolve=_copies, fields={
        "number": lazy_pgettext("audit field", "Copy number"), "holder": lazy_pgettext("audit field", "Holder"),
    })
    register_field_labels({"document_id": _l("Controlled document")}, values={"document_id": "sop_document"})
