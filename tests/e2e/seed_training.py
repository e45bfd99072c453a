"""Pick, in a running portal's demo data, an open training assignment of an employee whose department has a
head, on a document without a quiz, and print what the training browser test needs as JSON.

Run in the live server's environment: ``python -m tests.e2e.seed_training`` (see tests/e2e/test_training.py).
"""
from __future__ import annotations

import json

import sqlalchemy as sa

from portal import create_app
from portal.extensions import db
from portal.org.models import Department, User
from portal.sop.models import Document
from portal.training.models import OPEN, Quiz, TrainingAssignment


def main() -> None:
    app = create_app()
    with app.app_context():
        row = db.session.execute(
            sa.select(TrainingAssignment.id, TrainingAssignment.document_id, User.id.label("user_id"), User.username,
                      User.display_name,
                      Department.id.label("dept_id"), Department.head_id, Document.code)
            .join(User, User.id == TrainingAssignment.user_id)
            .join(Department, Department.id == User.department_id)
            .join(Document, Document.id == TrainingAssignment.document_id)
            .outerjoin(Quiz, Quiz.version_id == TrainingAssignment.version_id)
            .where(TrainingAssignment.status == OPEN, TrainingAssignment.current.is_(True), Quiz.id.is_(None),
                   Department.head_id.is_not(None), Department.head_id != User.id)
            .order_by(TrainingAssignment.id).limit(1)).one()
        head = db.session.get(User, row.head_id)
        print(json.dumps({"assignment_id": row.id, "document_id": row.document_id, "code": row.code,
                          "user_id": row.user_id, "username": row.username, "name": row.display_name, "dept_id": row.dept_id,
                          "head": head.username}, ensure_ascii=False))


if __name__ == "__main__":
    main()
