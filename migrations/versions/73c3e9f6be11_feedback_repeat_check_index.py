"""feedback: an index on (source_hash, created_at) for intake's repeat check (the same comment from the same
address within ten minutes), so its cost does not grow with a busy point's traffic

Revision ID: 73c3e9f6be11
Revises: 166957567843
Create Date: 2026-12-03 09:14:20.044291

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '73c3e9f6be11'
down_revision = '166957567843'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_source_created', ['source_hash', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_source_created')

