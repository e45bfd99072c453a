"""Triage queue pages at size: a partial index over the open tickets, and the count badges read from indexes.

``ix_ticket_queue_open`` (department, received, id; open statuses only, with status, spam and archived included):
the default view (open tickets, newest first) reads its 51 rows along it, and the open badges count its entries,
however long the closed history. ``ix_ticket_queue_status`` is rebuilt with spam and archived included
(PostgreSQL's INCLUDE; SQLite rebuilds it as it was), so the resolved and closed badges, now counted up to a cap,
read index entries only. Measured with bench/triage_queue_bench.py (10,000 against 1,000,000 feedback items).

Revision ID: e9042540854b
Revises: 240b203b64da
Create Date: 2026-12-04 16:04:19.511293

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e9042540854b'
down_revision = '240b203b64da'
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'accepted', 'in_progress', 'awaiting_customer')"


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_queue_open', ['department_id', 'received_at', 'id'], unique=False,
                              postgresql_include=['status', 'is_spam', 'archived_at'],
                              postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.drop_index('ix_ticket_queue_status')
        batch_op.create_index('ix_ticket_queue_status', ['department_id', 'status', 'received_at', 'id'],
                              unique=False, postgresql_include=['is_spam', 'archived_at'])


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_queue_status')
        batch_op.create_index('ix_ticket_queue_status', ['department_id', 'status', 'received_at', 'id'],
                              unique=False)
        batch_op.drop_index('ix_ticket_queue_open', postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
