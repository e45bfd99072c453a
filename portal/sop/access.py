"""Who may see and do what with controlled documents. Every rule here reads the responsibility matrix
(portal.raci.services), never a list of departments.

* **Document controllers** (文控: quality managers and administrators) register documents, see every
  version, issue and recall controlled copies, and may make a document obsolete.
* **Authors**: the controllers and the active members of the owning department start versions; a draft is
  edited (and, before it takes effect, read) by its author, the owning department's head and the controllers.
* **Reviewers**: the heads of the departments that are C for the document's process, plus anyone the
  author adds (portal.sop.services.submit).
* **The approver**: the head of the department that is A for the process (the owning department's head
  when the document has no process). Never the version's author.
* **Readers**: everyone sees effective versions, except of a restricted document (the owning department
  and the departments in the process's row of the matrix only). Superseded and obsolete versions only
  the roles in PORTAL_SOP_HISTORY_ROLES; versions in preparation only the people working on them.
"""
from __future__ import annotations

from flask import current_app

from portal.core.roles import ADMIN, QUALITY_MANAGER
from portal.extensions import db
from portal.org.models import Department, User
from portal.raci.services import accountable_department, departments_with
from portal.sop.models import (EFFECTIVE, OBSOLETE, OPEN, PENDING, RESTRICTED, SUPERSEDED, Document,
                               DocumentVersion)

CONTROLLERS = (ADMIN, QUALITY_MANAGER)


def _user(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.active


def is_controller(user) -> bool:
    return _user(user) and user.has_role(*CONTROLLERS)


def history_roles() -> tuple[str, ...]:
    return tuple(current_app.config.get("PORTAL_SOP_HISTORY_ROLES") or CONTROLLERS)


def may_see_history(user) -> bool:
    return _user(user) and (is_controller(user) or user.has_role(*history_roles()))


def approver_department(document: Document) -> Department | None:
    """The department whose head approves: the A of the process, else the owning department."""
    if document.process_id is not None:
        return accountable_department(document.process_id)
    return db.session.get(Department, document.department_id)


def approver_of(document: Document) -> User | None:
    dept = approver_department(document)
    head = dept.head if dept is not None and dept.active else None
    return head if head is not None and head.active else None


def is_approver(user, document: Document) -> bool:
    approver = approver_of(document) if _user(user) else None
    return approver is not None and approver.id == user.id


def may_author(user, document: Document) -> bool:
    return _user(user) and (is_controller(user) or user.department_id == document.department_id)


def may_manage_copies(user, document: Document) -> bool:
    """Issue controlled copies and record their return: the controllers and the owning department's head."""
    return is_controller(user) or is_owner_head(user, document)


def process_department_ids(document: Document) -> set[int]:
    """The departments holding any role for the document's process in the matrix."""
    if document.process_id is None:
        return set()
    return {d.id for role in ("R", "A", "C", "I") for d in departments_with(document.process_id, role)}


def may_read(user, document: Document) -> bool:
    """May ``user`` know the document (its register entry and effective version)?"""
    if not _user(user):
        return False
    if is_controller(user) or document.confidentiality != RESTRICTED:
        return True
    return user.department_id is not None and (
        user.department_id == document.department_id or user.department_id in process_department_ids(document))


def is_reviewer(user, version: DocumentVersion, *, pending_only: bool = False) -> bool:
    return _user(user) and any(r.user_id == user.id and (not pending_only or r.decision == PENDING)
                               for r in version.reviewers)


def is_owner_head(user, document: Document) -> bool:
    dept = db.session.get(Department, document.department_id) if _user(user) else None
    return dept is not None and dept.head_id == user.id


def may_edit_version(user, version: DocumentVersion) -> bool:
    """Its author, the owning department's head, or a document controller (other colleagues of the
    department may start versions of their own, not edit or read someone else's draft)."""
    return _user(user) and (is_controller(user) or version.author_id == user.id
                            or is_owner_head(user, version.document))


def works_on(user, version: DocumentVersion) -> bool:
    """Is ``user`` one of the people preparing this version (its editors, a reviewer, the approver)?"""
    return may_edit_version(user, version) or is_reviewer(user, version) or is_approver(user, version.document)


def may_read_version(user, version: DocumentVersion) -> bool:
    if not may_read(user, version.document):
        return False
    if version.status == EFFECTIVE:
        return True
    if version.status in (SUPERSEDED, OBSOLETE):
        return may_see_history(user)
    if version.status in OPEN:
        return works_on(user, version)
    return False
