"""audit chain version: rows before the audit key keep plain SHA-256 (1), new rows are HMAC-SHA256 (2)

Revision ID: 5e1f0a7c2b91
Revises: e7a3c5d19b42
Create Date: 2026-12-02 14:55:00.000000

Existing rows are not re-keyed: re-hashing them would erase the very evidence the chain exists to keep
(a tampered legacy row would simply get a fresh, valid HMAC). They keep chain = 1 and are verified with
plain SHA-256; the first keyed row's HMAC covers the last legacy hash, which seals them.
"""
from alembic import op
import sqlalchemy as sa


revision = '5e1f0a7c2b91'
down_revision = 'e7a3c5d19b42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.SmallInteger(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('chain')
