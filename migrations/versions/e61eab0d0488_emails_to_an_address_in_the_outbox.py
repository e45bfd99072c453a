"""The outbox delivers emails to an address that is no portal user's (a customer's reply, issue 12): a delivery
names the email source that writes the message at send time (``source``) and the row it reads (``source_id``).
Both are NULL for the existing deliveries of notifications and digests.

Revision ID: e61eab0d0488
Revises: 66aad91e712f
Create Date: 2026-12-04 15:50:33.602156

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e61eab0d0488'
down_revision = '66aad91e712f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('source_id', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('source_id')
        batch_op.drop_column('source')
