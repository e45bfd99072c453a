"""webhook allow-list and the calendar years an administrator has entered

Revision ID: e7a3c5d19b42
Revises: d091db4a6098
Create Date: 2026-12-02 14:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a3c5d19b42'
down_revision = 'd091db4a6098'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_allowed_host',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_webhook_allowed_host_created_by_id_user')),
    sa.PrimaryKeyConstraint('host', name=op.f('pk_webhook_allowed_host'))
    )
    op.create_table('calendar_year',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entered_by_id'], ['user.id'], name=op.f('fk_calendar_year_entered_by_id_user')),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_year'))
    )


def downgrade():
    op.drop_table('calendar_year')
    op.drop_table('webhook_allowed_host')
