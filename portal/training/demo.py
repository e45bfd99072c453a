"""Demo training records on top of the demo documents (whose taking effect already assigned them, through
``document_effective``): for each department, some assignments signed 已阅读并理解 through the real sign-off (the
password, the e-signature), some waived by the head, some pending and some overdue (their dates moved back, as
if they had been assigned weeks ago), and a quiz on one SOP. Idempotent: does nothing once a demo sign-off or
waiver exists."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import sqlalchemy as sa

from portal.core.types import utcnow
from portal.extensions import db
from portal.org.demo import DEMO_PASSWORD
from portal.org.models import Department, User
from portal.sop.models import Document
from portal.training import services
from portal.training.models import DONE, OPEN, WAIVED, TrainingAssignment

QUIZ_DOCUMENT = "SOP-OPS-002"
QUIZ = ("收到疑似假币时应当怎么做？\n- 退还客户，请其更换\n* 按规定当面收缴并出具凭证\n- 先收下，事后再处理\n\n"
        "现金收付的基本要求是？\n* 当面点清，唱收唱付\n- 先办业务，再清点\n- 由客户自行清点")


def seed_training() -> int:
    if db.session.scalar(sa.select(sa.func.count()).select_from(TrainingAssignment)
                         .where(TrainingAssignment.status.in_([DONE, WAIVED]))):
        return 0
    rows = list(db.session.scalars(
        sa.select(TrainingAssignment).join(User, User.id == TrainingAssignment.user_id)
        .where(TrainingAssignment.status == OPEN).order_by(User.department_id, TrainingAssignment.user_id,
                                                             TrainingAssignment.document_id)))
    if not rows:
        return 0
    today = services.local_today()
    heads = {d.id: d.head for d in db.session.scalars(sa.select(Department))}
    by_department: dict[int, list[TrainingAssignment]] = defaultdict(list)
    for row in rows:
        by_department[row.user.department_id].append(row)
    changed = 0
    overdue_ids = []
    for dept_id, items in by_department.items():
        for i, assignment in enumerate(items):
            share = i % 10
            if share < 4:  # signed, the real way
                services.mark_opened(assignment.user, assignment.id)
                services.sign_off(assignment.user, assignment.id, password=DEMO_PASSWORD, understood=True)
            elif share == 5 and heads.get(dept_id) is not None and heads[dept_id].id != assignment.user_id:
                services.waive(heads[dept_id], assignment.id, "已调岗至后台，不在柜面办理此项业务")
            elif share in (6, 7):
                overdue_ids.append(assignment.id)
            changed += 1
    # Overdue ones: as if assigned three to five weeks ago, with due dates from 1 to 20 days past.
    now = utcnow()
    for n, assignment_id in enumerate(overdue_ids):
        days_late = (1, 4, 12, 20)[n % 4]
        db.session.execute(sa.update(TrainingAssignment).where(TrainingAssignment.id == assignment_id).values(
            due_on=today - timedelta(days=days_late), assigned_at=now - timedelta(days=days_late + 14)))
    document = db.session.scalar(sa.select(Document).where(Document.code == QUIZ_DOCUMENT))
    if document is not None and document.current_version_id is not None:
        head = document.department.head
        if head is not None and services.quiz_of(document.current_version_id) is None:
            services.save_quiz(head, document.current_version_id, text=QUIZ, pass_mark=100)
    db.session.flush()
    return changed
