"""Drop the ticket index ix_ticket_resolution_due (a partial index on resolution_due_at over the open, running
tickets): no query reads it. The SLA scan reads ix_ticket_sla_next_check (each ticket's next warning or escalation
moment), and the queue pages, the digest and the to-dos compute countdowns from received_at and the pauses; the
index only cost every status change and every ticket insert a write.

Revision ID: 66aad91e712f
Revises: 303dcaf87da7
Create Date: 2026-12-04 15:53:37.248818

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '66aad91e712f'
down_revision = '303dcaf87da7'
branch_labels = None
depends_on = None

_RUNNING = "status IN ('new', 'accepted', 'in_progress')"


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_resolution_due', postgresql_where=sa.text(_RUNNING),
                            sqlite_where=sa.text(_RUNNING))


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_resolution_due', ['resolution_due_at'], unique=False,
                              postgresql_where=sa.text(_RUNNING), sqlite_where=sa.text(_RUNNING))
