"""CAPA actions remember the overdue ladder's last step sent (0 none, 1 the owner, 2 the department's head, 3 the
quality managers), so that each notification goes out once however often the job runs.

Revision ID: 240b203b64da
Revises: e61eab0d0488
Create Date: 2026-12-04 15:49:30.122589

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '240b203b64da'
down_revision = 'e61eab0d0488'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('capa_action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('capa_action', schema=None) as batch_op:
        batch_op.drop_column('escalation')
