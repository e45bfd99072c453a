"""培训矩阵: who in a department has trained on which document, its .xlsx export, and one person's printable
training record (个人培训档案).

**The grid** (:func:`build_matrix`): rows are the department's active users, columns the effective documents
of the trained types that anyone in the department has a *current* assignment for; each cell is that person's
current assignment of that document:

========================  ====  =====================================================================
state                     mark  when
========================  ====  =====================================================================
``done``                  ✓     done; the cell shows the completion date (Asia/Shanghai)
``pending``               ○     open, due today or later; links to the assignment (due date in the title)
``overdue``               !     open and ``due_on`` before today in Asia/Shanghai; shows the missed due
                                date and links to the assignment
``waived``                免    waived by the head, with a reason (in the title)
``not_required``          —     no current assignment, or closed as not applicable
========================  ====  =====================================================================

Filters: a position narrows the rows, a document type the columns, a state keeps the rows and columns with at
least one cell in that state. The page runs a fixed number of queries whatever the size (the departments the
actor may pick, the type settings, the department's people, the columns, the cells); the cells' words are
translated once per grid, not per cell.

**Who sees it**: the head of a department sees their own department(s); quality managers and administrators
pick any department; anyone else is refused (``PermissionDenied``), here in the service, not only in the view.

**The export** (:func:`export_xlsx`) is the same grid for the whole company (managers; or one department) or
the head's own departments, with the mark and the date in each cell and not-required cells left empty:
openpyxl's write-only mode (each row is serialised to a temporary file as it is appended), rows fetched in
batches (``yield_per``, a server-side cursor on PostgreSQL) and written one person at a time, the workbook
zipped into a temporary file and sent in chunks. Memory does not grow with the number of people or documents;
the first byte leaves once the last row is written (openpyxl zips the sheet at the end).

**The record** (:func:`record_pdf`): every assignment of one person, current and historical, and the classroom
sessions they were invited to, as a PDF; for the person, their department's head and managers.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_pgettext, pgettext

from portal.core.errors import NotFound, PermissionDenied
from portal.core.i18n import local_datetime, portal_tz
from portal.core.pdf import html_to_pdf
from portal.core.types import utcnow
from portal.extensions import db
from portal.org.models import Department, Position, User
from portal.sop.models import DOC_TYPES, TYPE_LABELS, Document, DocumentVersion
from portal.training.models import (BY_CLASSROOM, BY_SIGNOFF, DONE, NOT_APPLICABLE, OPEN, WAIVED,
                                    SessionAttendee, TrainingAssignment, TrainingSession)
from portal.training import services
from portal.training.services import (active_user, assignment_path, is_manager,
                                      may_oversee)
from portal.workcal.services import local_today

# -- cell states ----------------------------------------------------------------------------------
CELL_DONE, CELL_PENDING, CELL_OVERDUE, CELL_WAIVED, CELL_NOT_REQUIRED = (
    "done", "pending", "overdue", "waived", "not_required")
CELL_STATES = (CELL_DONE, CELL_PENDING, CELL_OVERDUE, CELL_WAIVED, CELL_NOT_REQUIRED)
CELL_LABELS = {
    CELL_DONE: lazy_pgettext("training matrix", "Done"),
    CELL_PENDING: lazy_pgettext("training matrix", "Pending"),
    CELL_OVERDUE: lazy_pgettext("training matrix", "Overdue"),
    CELL_WAIVED: lazy_pgettext("training matrix", "Waived"),
    CELL_NOT_REQUIRED: lazy_pgettext("training matrix", "Not required"),
}
#: The waiver's mark is a word (免), so it is translated; the others are symbols.
CELL_MARKS = {
    CELL_DONE: "✓",
    CELL_PENDING: "○",
    CELL_OVERDUE: "!",
    CELL_WAIVED: lazy_pgettext("training matrix mark", "W"),
    CELL_NOT_REQUIRED: "—",
}

#: Bootstrap classes of a cell (text on a subtle background reads at 4.5:1 at least).
CELL_CLASSES = {
    CELL_DONE: "text-success-emphasis",
    CELL_PENDING: "text-primary-emphasis",
    CELL_OVERDUE: "bg-danger-subtle text-danger-emphasis fw-bold",
    CELL_WAIVED: "text-secondary",
    CELL_NOT_REQUIRED: "text-secondary",
}

#: Rows fetched per batch by the export.
EXPORT_BATCH = 2000
#: Bytes per chunk of the streamed workbook.
CHUNK_BYTES = 64 * 1024


def register() -> None:
    """Nothing to register: the pages are routes of the training blueprint (matrix_views)."""


# -- what the grid is made of ---------------------------------------------------------------------
@dataclass(slots=True)
class Cell:
    state: str
    assignment_id: int | None = None
    version_label: str = ""
    due_on: date | None = None
    completed_on: date | None = None
    reason: str = ""
    #: Filled by :class:`Words` for the page: the mark, the date shown and the title, in the user's language.
    mark: str = ""
    day: str = ""
    title: str = ""

    @property
    def css(self) -> str:
        return CELL_CLASSES[self.state]

    @property
    def href(self) -> str | None:
        """Open assignments link to their page."""
        if self.assignment_id is not None and self.state in (CELL_PENDING, CELL_OVERDUE):
            return assignment_path(self.assignment_id)
        return None

    @property
    def shown_day(self) -> date | None:
        """The date that goes with the state: completion for done, the due date for open ones."""
        if self.state == CELL_DONE:
            return self.completed_on
        return self.due_on if self.state in (CELL_PENDING, CELL_OVERDUE) else None


class Words:
    """The cells' words, translated once per grid (a catalog lookup per cell costs more than the cell)."""

    def __init__(self) -> None:
        self.labels = {state: str(label) for state, label in CELL_LABELS.items()}
        self.marks = {state: str(mark) for state, mark in CELL_MARKS.items()}
        self.done = _("completed %(day)s, version %(version)s")
        self.due = _("due %(day)s, version %(version)s")
        self.not_applicable = _("not applicable")

    def dress(self, cell: Cell) -> Cell:
        """Set the cell's mark, shown date and title: the state and its dates, e.g. "已完成 · 2026-05-01 完成"."""
        day = _iso(cell.shown_day)
        # the grid shows the completion and the missed due date; a pending cell's due date is in its title
        cell.mark, cell.day = self.marks[cell.state], day if cell.state != CELL_PENDING else ""
        if cell.state == CELL_DONE:
            detail = self.done % {"day": day, "version": cell.version_label}
        elif cell.state in (CELL_PENDING, CELL_OVERDUE):
            detail = self.due % {"day": day, "version": cell.version_label}
        elif cell.state == CELL_WAIVED:
            detail = cell.reason
        elif cell.assignment_id is not None:
            detail = cell.reason or self.not_applicable
        else:
            detail = ""
        label = self.labels[cell.state]
        cell.title = f"{label} · {detail}" if detail else label
        return cell

    def text(self, cell: Cell) -> str | None:
        """The cell in the workbook: the mark and the date; None (an empty cell) when not required."""
        if cell.state == CELL_NOT_REQUIRED:
            return None
        day = cell.shown_day
        return f"{self.marks[cell.state]} {day.isoformat()}" if day else self.marks[cell.state]




@dataclass(frozen=True)
class Person:
    id: int
    name: str
    username: str
    position_id: int | None
    position: str


@dataclass(frozen=True)
class Column:
    id: int
    code: str
    title: str
    doc_type: str
    version_label: str

    @property
    def name(self) -> str:
        return f"{self.code} {self.title}"


@dataclass(frozen=True)
class MatrixFilters:
    position_id: int | None = None
    doc_type: str = ""
    status: str = ""

    @classmethod
    def parse(cls, position_id: int | None, doc_type: str | None, status: str | None) -> "MatrixFilters":
        """Unknown values are dropped (a hand-edited URL shows the unfiltered grid)."""
        doc_type = doc_type if doc_type in DOC_TYPES else ""
        status = status if status in CELL_STATES else ""
        return cls(position_id or None, doc_type, status)


@dataclass
class Matrix:
    department: Department
    departments: list[Department]
    people: list[Person]
    columns: list[Column]
    cells: dict[tuple[int, int], Cell]
    positions: list[tuple[int, str]]
    doc_types: list[str]
    filters: MatrixFilters
    today: date
    counts: dict[str, int] = field(default_factory=dict)
    #: People and columns before the filters (for "n of m").
    all_people: int = 0
    all_columns: int = 0
    #: The actor may export the whole company (a manager).
    company_wide: bool = False
    #: The cell of someone without a current assignment of a document.
    blank: Cell = field(default_factory=lambda: Cell(CELL_NOT_REQUIRED))

    def cell(self, person_id: int, document_id: int) -> Cell:
        return self.cells.get((person_id, document_id), self.blank)

    @property
    def rows(self) -> Iterator[tuple[Person, list[Cell]]]:
        """Each shown person with their cells, in the columns' order."""
        for person in self.people:
            yield person, [self.cells.get((person.id, c.id), self.blank) for c in self.columns]

    @property
    def type_choices(self) -> list[tuple[str, str]]:
        return [(t, str(TYPE_LABELS[t])) for t in self.doc_types]


# -- helpers --------------------------------------------------------------------------------------
def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _local_day(moment: datetime | None) -> date | None:
    return moment.astimezone(portal_tz()).date() if moment is not None else None


def _label(major: int | None, minor: int | None) -> str:
    return f"{major}.{minor}" if major is not None else ""


def _effective(doc_types: list[str]):
    """Effective documents of the trained types."""
    return sa.and_(Document.current_version_id.is_not(None), Document.obsolete_at.is_(None),
                   Document.doc_type.in_(doc_types or ["-"]))


def cell_of(status: str, due_on: date | None, completed_at: datetime | None, today: date, **extra) -> Cell:
    """The cell of a current assignment."""
    if status == DONE:
        return Cell(CELL_DONE, completed_on=_local_day(completed_at), due_on=due_on, **extra)
    if status == OPEN:
        return Cell(CELL_OVERDUE if due_on < today else CELL_PENDING, due_on=due_on, **extra)
    if status == WAIVED:
        return Cell(CELL_WAIVED, due_on=due_on, **extra)
    return Cell(CELL_NOT_REQUIRED, **extra)  # not applicable (a current one is never superseded)


def _current(assignment=TrainingAssignment):
    """``WHERE current``, as the partial index ``uq_training_assignment_current`` says it: PostgreSQL matches the
    index to ``current`` (or ``current = true``), never to ``current IS TRUE``, which scans the whole table."""
    return assignment.current == sa.true()


def _in_scope(department_ids: list[int] | None):
    """Active users of the departments (None: the whole company)."""
    where = User.active.is_(True)
    return where if department_ids is None else sa.and_(where, User.department_id.in_(department_ids or [-1]))


def _columns(department_ids: list[int] | None, doc_types: list[str]) -> list[Column]:
    """Effective documents of the trained types that anyone in scope has a current assignment for."""
    someone = (sa.select(TrainingAssignment.id).join(User, User.id == TrainingAssignment.user_id)
               .where(TrainingAssignment.document_id == Document.id, _current(),
                      _in_scope(department_ids)).exists())
    rows = db.session.execute(
        sa.select(Document.id, Document.code, Document.title, Document.doc_type, DocumentVersion.major,
                  DocumentVersion.minor)
        .join(DocumentVersion, DocumentVersion.id == Document.current_version_id)
        .where(_effective(doc_types), someone).order_by(Document.code))
    return [Column(r.id, r.code, r.title, r.doc_type, _label(r.major, r.minor)) for r in rows]


# -- who may see which department -----------------------------------------------------------------
def visible_departments(actor) -> list[Department]:
    """The departments ``actor`` may open the matrix of: all active ones for managers, the ones they head
    otherwise. Refused for anyone else."""
    if not active_user(actor):
        raise PermissionDenied()
    query = sa.select(Department).where(Department.active.is_(True)).order_by(Department.sort_order, Department.code)
    if not is_manager(actor):
        query = query.where(Department.head_id == actor.id)
    departments = list(db.session.scalars(query))
    if not departments and not is_manager(actor):
        raise PermissionDenied()
    return departments


def _pick(actor, department_id: int | None, departments: list[Department]) -> Department:
    if department_id is None:
        own = next((d for d in departments if d.id == actor.department_id), None)
        if own is not None or departments:
            return own or departments[0]
        raise NotFound()  # a manager, and no active department at all
    department = next((d for d in departments if d.id == department_id), None)
    if department is None and is_manager(actor):
        department = db.session.get(Department, department_id)  # a deactivated one
        if department is None:
            raise NotFound()
    if department is None or not may_oversee(actor, department.id):
        raise PermissionDenied()
    return department


# -- the grid -------------------------------------------------------------------------------------
def build_matrix(actor, department_id: int | None = None, filters: MatrixFilters | None = None, *,
                 today: date | None = None) -> Matrix:
    """The training matrix of one department as ``actor`` may see it (see the module's docstring)."""
    filters = filters or MatrixFilters()
    today = today or local_today()
    departments = visible_departments(actor)
    department = _pick(actor, department_id, departments)
    doc_types = services.enabled_types()

    people = [Person(r.id, r.display_name, r.username, r.position_id, r.position or "") for r in db.session.execute(
        sa.select(User.id, User.display_name, User.username, User.position_id, Position.name.label("position"))
        .outerjoin(Position, Position.id == User.position_id)
        .where(_in_scope([department.id])).order_by(User.display_name, User.id))]
    columns = _columns([department.id], doc_types)
    cells: dict[tuple[int, int], Cell] = {}
    rows = db.session.execute(
        sa.select(TrainingAssignment.id, TrainingAssignment.user_id, TrainingAssignment.document_id,
                  TrainingAssignment.status, TrainingAssignment.due_on, TrainingAssignment.completed_at,
                  TrainingAssignment.closed_reason, DocumentVersion.major, DocumentVersion.minor)
        .join(User, User.id == TrainingAssignment.user_id)
        .join(Document, Document.id == TrainingAssignment.document_id)
        .join(DocumentVersion, DocumentVersion.id == TrainingAssignment.version_id)
        .where(_current(), _in_scope([department.id]), _effective(doc_types)))
    for r in rows:
        cells[(r.user_id, r.document_id)] = cell_of(
            r.status, r.due_on, r.completed_at, today, assignment_id=r.id,
            version_label=_label(r.major, r.minor), reason=r.closed_reason or "")

    positions = sorted({(p.position_id, p.position) for p in people if p.position_id}, key=lambda p: (p[1], p[0]))
    matrix = Matrix(department, departments, people, columns, cells, positions, doc_types, filters, today,
                    all_people=len(people), all_columns=len(columns), company_wide=is_manager(actor))
    _apply(matrix)
    words = Words()
    for cell in (*cells.values(), matrix.blank):
        words.dress(cell)
    return matrix


def _apply(matrix: Matrix) -> None:
    """The filters: the position narrows the rows, the type the columns; a status keeps the rows and columns
    with at least one cell in that state. Columns nobody shown has a current assignment for are dropped."""
    f = matrix.filters
    people = [p for p in matrix.people if not f.position_id or p.position_id == f.position_id]
    columns = [c for c in matrix.columns if not f.doc_type or c.doc_type == f.doc_type]
    if f.position_id:
        shown = {p.id for p in people}
        assigned = {doc_id for (user_id, doc_id) in matrix.cells if user_id in shown}
        columns = [c for c in columns if c.id in assigned]
    if f.status:
        people = [p for p in people if any(matrix.cell(p.id, c.id).state == f.status for c in columns)]
        columns = [c for c in columns if any(matrix.cell(p.id, c.id).state == f.status for p in people)]
    matrix.people, matrix.columns = people, columns
    counts = dict.fromkeys(CELL_STATES, 0)
    for p in people:
        for c in columns:
            counts[matrix.cell(p.id, c.id).state] += 1
    matrix.counts = counts


# -- the .xlsx export -----------------------------------------------------------------------------
@dataclass
class Export:
    filename: str
    ascii_filename: str
    chunks: Iterator[bytes]


def export_xlsx(actor, department_id: int | None = None, *, today: date | None = None) -> Export:
    """The matrix as a workbook: the whole company for managers (or ``department_id``), a head's own
    department(s). Permission is checked now; the workbook is made while ``chunks`` is read."""
    departments = visible_departments(actor)
    if department_id is not None:
        scope = [_pick(actor, department_id, departments).id]
    elif is_manager(actor):
        scope = None
    else:
        scope = [d.id for d in departments]
    today = today or local_today()
    stamp = today.strftime("%Y%m%d")
    return Export(_("Training matrix") + f"-{stamp}.xlsx", f"training-matrix-{stamp}.xlsx",
                  _workbook_chunks(scope, today))


def _text(sheet, value):
    """A cell showing ``value`` as text (a name starting with "=" never becomes a formula)."""
    from openpyxl.cell import WriteOnlyCell

    from portal.core.uploads import keep_as_text

    return keep_as_text(WriteOnlyCell(sheet, value=value))


def _export_rows(scope: list[int] | None, columns: list[Column], today: date, words: Words) -> Iterator[tuple]:
    """(department, username, name, position, {document_id: the cell's text}) per active user in scope, in
    the departments' order, fetched in batches."""
    index = {c.id: c for c in columns}
    assignment = sa.orm.aliased(TrainingAssignment)
    query = (sa.select(User.id, User.username, User.display_name, Department.name.label("department"),
                       Position.name.label("position"), assignment.document_id, assignment.status, assignment.due_on,
                       assignment.completed_at)
             .outerjoin(Department, Department.id == User.department_id)
             .outerjoin(Position, Position.id == User.position_id)
             .outerjoin(assignment, sa.and_(assignment.user_id == User.id, _current(assignment)))
             .where(_in_scope(scope))
             .order_by(Department.sort_order.is_(None), Department.sort_order, Department.code, User.display_name,
                       User.id)
             .execution_options(yield_per=EXPORT_BATCH))
    current, head, cells = None, None, {}
    for r in db.session.execute(query):
        if r.id != current:
            if current is not None:
                yield (*head, cells)
            current, head, cells = r.id, (r.department or "", r.username, r.display_name, r.position or ""), {}
        if r.document_id in index:
            cells[r.document_id] = words.text(cell_of(r.status, r.due_on, r.completed_at, today))
    if current is not None:
        yield (*head, cells)


def _workbook_chunks(scope: list[int] | None, today: date) -> Iterator[bytes]:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    columns = _columns(scope, services.enabled_types())
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Training matrix"))
    for letter, width in (("A", 16), ("B", 14), ("C", 12), ("D", 14)):
        sheet.column_dimensions[letter].width = width
    for n in range(len(columns)):
        sheet.column_dimensions[get_column_letter(5 + n)].width = 14
    sheet.freeze_panes = "E3"
    fixed = [_("Department"), _("Username"), pgettext("training matrix", "Name"), _("Position")]
    sheet.append([_text(sheet, v) for v in fixed + [c.code for c in columns]])
    sheet.append(["", "", "", ""] + [_text(sheet, f"{c.title} v{c.version_label}") for c in columns])
    words = Words()
    for department, username, name, position, cells in _export_rows(scope, columns, today, words):
        sheet.append([_text(sheet, department), _text(sheet, username), _text(sheet, name), _text(sheet, position)]
                     + [cells.get(c.id) for c in columns])
    legend = workbook.create_sheet(_("Legend"))
    legend.append([pgettext("training matrix", "Mark"), pgettext("training matrix", "Meaning")])
    explanations = {
        CELL_DONE: _("Done, with the completion date"),
        CELL_PENDING: _("Pending, with the due date"),
        CELL_OVERDUE: _("Overdue, with the due date"),
        CELL_WAIVED: _("Waived by the department head"),
        CELL_NOT_REQUIRED: _("Not required"),
    }
    for state in CELL_STATES:
        legend.append([_("(empty)") if state == CELL_NOT_REQUIRED else words.marks[state], explanations[state]])
    legend.append([])
    legend.append([_("As of %(day)s (Asia/Shanghai)", day=today.isoformat())])
    with tempfile.TemporaryFile(prefix="training-matrix-", suffix=".xlsx") as out:
        workbook.save(out)
        out.seek(0)
        while chunk := out.read(CHUNK_BYTES):
            yield chunk


# -- 个人培训档案 ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordLine:
    code: str
    title: str
    version: str
    current: bool
    status: str
    assigned_on: str
    due_on: str
    completed_on: str
    how: str


@dataclass(frozen=True)
class SessionLine:
    day: str
    topic: str
    trainer: str
    place: str
    attended: str


def _how(a: TrainingAssignment) -> str:
    if a.status == DONE and a.completed_by == BY_CLASSROOM:
        topic = a.session.topic if a.session is not None else ""
        return _("Classroom session: %(topic)s", topic=topic) if topic else _("Classroom session")
    if a.status == DONE and a.completed_by == BY_SIGNOFF:
        return (_("Read and understood, e-signed") if a.signature_id else _("Read and understood, confirmed"))
    if a.status in (WAIVED, NOT_APPLICABLE) and a.closed_reason:
        return a.closed_reason
    return ""


def record_of(actor, user_id: int) -> tuple[User, list[RecordLine], list[SessionLine]]:
    """One person's assignments (current and historical) and classroom sessions, for the person, their
    department's head and managers."""
    person = db.session.get(User, user_id)
    if person is None or not active_user(actor):
        raise NotFound()
    if person.id != actor.id and not may_oversee(actor, person.department_id):
        raise PermissionDenied()
    assignments = db.session.scalars(
        sa.select(TrainingAssignment).join(Document, Document.id == TrainingAssignment.document_id)
        .join(DocumentVersion, DocumentVersion.id == TrainingAssignment.version_id)
        .where(TrainingAssignment.user_id == person.id)
        .options(sa.orm.contains_eager(TrainingAssignment.document),
                 sa.orm.contains_eager(TrainingAssignment.version),
                 sa.orm.selectinload(TrainingAssignment.session))
        .order_by(Document.code, TrainingAssignment.current.desc(), DocumentVersion.major.desc(),
                  DocumentVersion.minor.desc(), TrainingAssignment.id.desc()))
    lines = [RecordLine(
        code=a.document.code, title=a.document.title, version=a.version.label, current=a.current,
        status=str(a.status_label), assigned_on=_iso(_local_day(a.assigned_at)), due_on=_iso(a.due_on),
        completed_on=_iso(_local_day(a.completed_at or a.closed_at)), how=_how(a)) for a in assignments]
    attendances = db.session.scalars(
        sa.select(SessionAttendee).join(TrainingSession, TrainingSession.id == SessionAttendee.session_id)
        .where(SessionAttendee.user_id == person.id)
        .options(sa.orm.contains_eager(SessionAttendee.session).joinedload(TrainingSession.trainer))
        .order_by(TrainingSession.starts_at.desc()))
    sessions = [SessionLine(
        day=local_datetime(s.session.starts_at), topic=s.session.topic,
        trainer=s.session.trainer.display_name if s.session.trainer else "", place=s.session.place,
        attended=local_datetime(s.attended_at) if s.attended_at else pgettext("training record", "Not signed in"))
        for s in attendances]
    return person, lines, sessions


def record_pdf(actor, user_id: int) -> tuple[User, bytes]:
    """个人培训档案 as a PDF (A4)."""
    from portal.sop.pdf import css_content

    person, lines, sessions = record_of(actor, user_id)
    html = render_template(
        "training/pdf/record.html", person=person, lines=lines, sessions=sessions, css_content=css_content,
        department=person.department.name if person.department else "",
        position=person.position.name if person.position else "",
        printed_at=local_datetime(utcnow()), printed_by=actor.display_name)
    return person, html_to_pdf(html)
