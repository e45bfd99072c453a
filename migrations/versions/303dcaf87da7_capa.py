"""CAPA (纠正预防措施): corrective actions with their source (one per source item), root cause, effectiveness
check fields and signed closure, and their actions with owners and due dates.

Revision ID: 303dcaf87da7
Revises: a2f57d198941
Create Date: 2026-12-03 15:13:05.565192

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '303dcaf87da7'
down_revision = 'a2f57d198941'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('capa',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('service_point_id', sa.Integer(), nullable=True),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('containment', sa.Text(), nullable=False),
    sa.Column('whys', sa.JSON(), nullable=False),
    sa.Column('cause_category', sa.String(length=12), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('implemented_on', sa.Date(), nullable=True),
    sa.Column('check_due_on', sa.Date(), nullable=True),
    sa.Column('csat_before', sa.Double(), nullable=True),
    sa.Column('csat_after', sa.Double(), nullable=True),
    sa.Column('ratings_before', sa.Integer(), nullable=True),
    sa.Column('ratings_after', sa.Integer(), nullable=True),
    sa.Column('effectiveness', sa.String(length=14), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_signature_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.CheckConstraint("source IN ('ticket', 'incident', 'objective', 'manual')", name=op.f('ck_capa_source')),
    sa.CheckConstraint("status IN ('open', 'checking', 'closed')", name=op.f('ck_capa_status')),
    sa.ForeignKeyConstraint(['close_signature_id'], ['signature.id'], name=op.f('fk_capa_close_signature_id_signature')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_capa_closed_by_id_user')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_capa_created_by_id_user')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_capa_department_id_department')),
    sa.ForeignKeyConstraint(['service_point_id'], ['service_point.id'], name=op.f('fk_capa_service_point_id_service_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capa')),
    sa.UniqueConstraint('request_key', name=op.f('uq_capa_request_key'))
    )
    with op.batch_alter_table('capa', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capa_check_due_on'), ['check_due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_capa_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_capa_service_point_id'), ['service_point_id'], unique=False)
        batch_op.create_index('uq_capa_source', ['source', 'source_id'], unique=True, postgresql_where=sa.text('source_id IS NOT NULL'), sqlite_where=sa.text('source_id IS NOT NULL'))

    op.create_table('capa_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('capa_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=6), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'done')", name=op.f('ck_capa_action_status')),
    sa.ForeignKeyConstraint(['capa_id'], ['capa.id'], name=op.f('fk_capa_action_capa_id_capa')),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_capa_action_owner_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capa_action'))
    )
    with op.batch_alter_table('capa_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capa_action_capa_id'), ['capa_id'], unique=False)
        batch_op.create_index('ix_capa_action_open_due', ['status', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_capa_action_owner_id'), ['owner_id'], unique=False)



def downgrade():
    with op.batch_alter_table('capa_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capa_action_owner_id'))
        batch_op.drop_index('ix_capa_action_open_due')
        batch_op.drop_index(batch_op.f('ix_capa_action_capa_id'))

    op.drop_table('capa_action')
    with op.batch_alter_table('capa', schema=None) as batch_op:
        batch_op.drop_index('uq_capa_source', postgresql_where=sa.text('source_id IS NOT NULL'), sqlite_where=sa.text('source_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_capa_service_point_id'))
        batch_op.drop_index(batch_op.f('ix_capa_department_id'))
        batch_op.drop_index(batch_op.f('ix_capa_check_due_on'))

    op.drop_table('capa')
