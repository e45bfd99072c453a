"""Triage SLA scan: each ticket's next moment to look at (its next warning or escalation step), with a partial
index over the open, running tickets, so the scan reads only the tickets that are due.

Revision ID: a2f57d198941
Revises: 23dae96a21fa
Create Date: 2026-12-03 14:47:59.879645

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a2f57d198941'
down_revision = '23dae96a21fa'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_next_check_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_ticket_sla_next_check', ['sla_next_check_at'], unique=False, postgresql_where=sa.text("status IN ('new', 'accepted', 'in_progress')"), sqlite_where=sa.text("status IN ('new', 'accepted', 'in_progress')"))


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_sla_next_check', postgresql_where=sa.text("status IN ('new', 'accepted', 'in_progress')"), sqlite_where=sa.text("status IN ('new', 'accepted', 'in_progress')"))
        batch_op.drop_column('sla_next_check_at')

