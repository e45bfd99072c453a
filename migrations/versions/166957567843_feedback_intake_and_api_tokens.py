"""feedback intake (issue 10): service points with their QR keys, staff codes, the feedback stream, and the
API tokens of rating terminals and integrations

Revision ID: 166957567843
Revises: 7c3d9a1e5b20
Create Date: 2026-12-03 08:06:53.605242

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '166957567843'
down_revision = '7c3d9a1e5b20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('service_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.Integer(), nullable=True),
    sa.Column('opening_hours', sa.String(length=200), nullable=False),
    sa.Column('categories_text', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('qr_secret', sa.String(length=64), nullable=False),
    sa.Column('qr_rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_service_point_department_id_department')),
    sa.ForeignKeyConstraint(['process_id'], ['process.id'], name=op.f('fk_service_point_process_id_process')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_point')),
    sa.UniqueConstraint('code', name=op.f('uq_service_point_code'))
    )
    with op.batch_alter_table('service_point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_point_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_point_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_point_process_id'), ['process_id'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=40), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_api_token_created_by_id_user')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user.id'], name=op.f('fk_api_token_revoked_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_token_token_sha256'))
    )
    op.create_table('staff_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('service_point_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['service_point_id'], ['service_point.id'], name=op.f('fk_staff_code_service_point_id_service_point')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_staff_code_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_code')),
    sa.UniqueConstraint('code', name=op.f('uq_staff_code_code'))
    )
    with op.batch_alter_table('staff_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_code_service_point_id'), ['service_point_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staff_code_user_id'), ['user_id'], unique=False)

    op.create_table('feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('service_point_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=True),
    sa.Column('staff_code_id', sa.Integer(), nullable=True),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('nps', sa.SmallInteger(), nullable=True),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('contact_name', sa.String(length=50), nullable=False),
    sa.Column('contact_phone', sa.String(length=30), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('contact_consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('contact_purpose', sa.String(length=300), nullable=False),
    sa.Column('query_code_digest', sa.String(length=64), nullable=False),
    sa.Column('query_code_sealed', sa.String(length=200), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('is_spam', sa.Boolean(), nullable=False),
    sa.Column('spam_reasons', sa.String(length=100), nullable=False),
    sa.Column('source_hash', sa.String(length=32), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_rating', sa.SmallInteger(), nullable=True),
    sa.Column('resolution_rated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('api_token_id', sa.Integer(), nullable=True),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('nps IS NULL OR nps BETWEEN 0 AND 10', name=op.f('ck_feedback_nps_range')),
    sa.CheckConstraint('rating IS NULL OR rating BETWEEN 1 AND 5', name=op.f('ck_feedback_rating_range')),
    sa.ForeignKeyConstraint(['api_token_id'], ['api_token.id'], name=op.f('fk_feedback_api_token_id_api_token')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_feedback_created_by_id_user')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_feedback_department_id_department')),
    sa.ForeignKeyConstraint(['service_point_id'], ['service_point.id'], name=op.f('fk_feedback_service_point_id_service_point')),
    sa.ForeignKeyConstraint(['staff_code_id'], ['staff_code.id'], name=op.f('fk_feedback_staff_code_id_staff_code')),
    sa.ForeignKeyConstraint(['staff_user_id'], ['user.id'], name=op.f('fk_feedback_staff_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_feedback_idempotency_key')),
    sa.UniqueConstraint('query_code_digest', name=op.f('uq_feedback_query_code_digest'))
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_created', ['created_at'], unique=False)
        batch_op.create_index('ix_feedback_department_created', ['department_id', 'created_at'], unique=False)
        batch_op.create_index('ix_feedback_point_created', ['service_point_id', 'created_at'], unique=False)
        batch_op.create_index('ix_feedback_spam_created', ['is_spam', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_staff_user_id'), ['staff_user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_staff_user_id'))
        batch_op.drop_index('ix_feedback_spam_created')
        batch_op.drop_index('ix_feedback_point_created')
        batch_op.drop_index('ix_feedback_department_created')
        batch_op.drop_index('ix_feedback_created')

    op.drop_table('feedback')
    with op.batch_alter_table('staff_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_code_user_id'))
        batch_op.drop_index(batch_op.f('ix_staff_code_service_point_id'))

    op.drop_table('staff_code')
    op.drop_table('api_token')
    with op.batch_alter_table('service_point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_point_process_id'))
        batch_op.drop_index(batch_op.f('ix_service_point_department_id'))
        batch_op.drop_index(batch_op.f('ix_service_point_active'))

    op.drop_table('service_point')
