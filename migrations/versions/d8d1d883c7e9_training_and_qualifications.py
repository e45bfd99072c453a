"""Training (人员培训) and qualifications (上岗资格): per-type settings, requirement rules, assignments with their
one-current-per-person-and-document index, quizzes and attempts, classroom sessions with their documents and
attendees, qualification types, the positions requiring them, and certificates.

Revision ID: d8d1d883c7e9
Revises: 73c3e9f6be11
Create Date: 2026-12-03 13:30:03.994826

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd8d1d883c7e9'
down_revision = '73c3e9f6be11'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('qualification_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('validity_months', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('validity_months IS NULL OR validity_months BETWEEN 1 AND 240', name=op.f('ck_qualification_type_validity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification_type')),
    sa.UniqueConstraint('name', name=op.f('uq_qualification_type_name'))
    )
    op.create_table('training_type_setting',
    sa.Column('doc_type', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('due_days', sa.Integer(), nullable=False),
    sa.Column('require_password', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('due_days BETWEEN 1 AND 365', name=op.f('ck_training_type_setting_due_days')),
    sa.PrimaryKeyConstraint('doc_type', name=op.f('pk_training_type_setting'))
    )
    op.create_table('qualification_position',
    sa.Column('position_id', sa.Integer(), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['position_id'], ['position.id'], name=op.f('fk_qualification_position_position_id_position'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['type_id'], ['qualification_type.id'], name=op.f('fk_qualification_position_type_id_qualification_type'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('position_id', 'type_id', name=op.f('pk_qualification_position'))
    )
    op.create_table('qualification_certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('scan_name', sa.String(length=64), nullable=True),
    sa.Column('scan_display_name', sa.String(length=200), nullable=False),
    sa.Column('scan_mime_type', sa.String(length=120), nullable=False),
    sa.Column('scan_sha256', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=500), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.CheckConstraint('expires_on IS NULL OR expires_on >= issued_on', name=op.f('ck_qualification_certificate_dates')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_qualification_certificate_created_by_id_user')),
    sa.ForeignKeyConstraint(['type_id'], ['qualification_type.id'], name=op.f('fk_qualification_certificate_type_id_qualification_type')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_qualification_certificate_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification_certificate')),
    sa.UniqueConstraint('request_key', name=op.f('uq_qualification_certificate_request_key')),
    sa.UniqueConstraint('type_id', 'number', name='uq_qualification_certificate_number')
    )
    with op.batch_alter_table('qualification_certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qualification_certificate_expires_on'), ['expires_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_qualification_certificate_type_id'), ['type_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qualification_certificate_user_id'), ['user_id'], unique=False)

    op.create_table('training_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('trainer_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.CheckConstraint('ends_at >= starts_at', name=op.f('ck_training_session_times')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_training_session_created_by_id_user')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_training_session_department_id_department')),
    sa.ForeignKeyConstraint(['trainer_id'], ['user.id'], name=op.f('fk_training_session_trainer_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_session')),
    sa.UniqueConstraint('request_key', name=op.f('uq_training_session_request_key'))
    )
    with op.batch_alter_table('training_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_session_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_session_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_session_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('training_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('position_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'add_user' AND user_id IS NOT NULL AND position_id IS NULL) OR (kind <> 'add_user' AND position_id IS NOT NULL AND user_id IS NULL)", name=op.f('ck_training_rule_target')),
    sa.CheckConstraint("kind IN ('add_position', 'add_user', 'exclude_position')", name=op.f('ck_training_rule_kind')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_training_rule_created_by_id_user')),
    sa.ForeignKeyConstraint(['document_id'], ['sop_document.id'], name=op.f('fk_training_rule_document_id_sop_document')),
    sa.ForeignKeyConstraint(['position_id'], ['position.id'], name=op.f('fk_training_rule_position_id_position')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_training_rule_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_rule'))
    )
    with op.batch_alter_table('training_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_rule_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_rule_position_id'), ['position_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_rule_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_training_rule_position', ['document_id', 'kind', 'position_id'], unique=True, postgresql_where=sa.text('position_id IS NOT NULL'), sqlite_where=sa.text('position_id IS NOT NULL'))
        batch_op.create_index('uq_training_rule_user', ['document_id', 'user_id'], unique=True, postgresql_where=sa.text('user_id IS NOT NULL'), sqlite_where=sa.text('user_id IS NOT NULL'))

    op.create_table('training_session_attendee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('attended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signature_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['training_session.id'], name=op.f('fk_training_session_attendee_session_id_training_session'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signature_id'], ['signature.id'], name=op.f('fk_training_session_attendee_signature_id_signature')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_training_session_attendee_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_session_attendee')),
    sa.UniqueConstraint('session_id', 'user_id', name='uq_training_session_attendee')
    )
    with op.batch_alter_table('training_session_attendee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_session_attendee_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_session_attendee_user_id'), ['user_id'], unique=False)

    op.create_table('training_session_document',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['sop_document.id'], name=op.f('fk_training_session_document_document_id_sop_document')),
    sa.ForeignKeyConstraint(['session_id'], ['training_session.id'], name=op.f('fk_training_session_document_session_id_training_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'document_id', name=op.f('pk_training_session_document'))
    )
    op.create_table('training_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('first_opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.String(length=16), nullable=True),
    sa.Column('signature_id', sa.Integer(), nullable=True),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_reason', sa.String(length=500), nullable=False),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalation', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'done', 'waived', 'not_applicable', 'superseded')", name=op.f('ck_training_assignment_status')),
    sa.CheckConstraint('escalation BETWEEN 0 AND 3', name=op.f('ck_training_assignment_escalation')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_training_assignment_closed_by_id_user')),
    sa.ForeignKeyConstraint(['document_id'], ['sop_document.id'], name=op.f('fk_training_assignment_document_id_sop_document')),
    sa.ForeignKeyConstraint(['session_id'], ['training_session.id'], name=op.f('fk_training_assignment_session_id_training_session')),
    sa.ForeignKeyConstraint(['signature_id'], ['signature.id'], name=op.f('fk_training_assignment_signature_id_signature')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_training_assignment_user_id_user')),
    sa.ForeignKeyConstraint(['version_id'], ['sop_version.id'], name=op.f('fk_training_assignment_version_id_sop_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_assignment')),
    sa.UniqueConstraint('user_id', 'version_id', name='uq_training_assignment_version')
    )
    with op.batch_alter_table('training_assignment', schema=None) as batch_op:
        batch_op.create_index('ix_training_assignment_document_user', ['document_id', 'user_id'], unique=False)
        batch_op.create_index('ix_training_assignment_open_due', ['status', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_assignment_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_assignment_version_id'), ['version_id'], unique=False)
        batch_op.create_index('uq_training_assignment_current', ['user_id', 'document_id'], unique=True, postgresql_where=sa.text('current'), sqlite_where=sa.text('current'))

    op.create_table('training_quiz',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('pass_mark', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('pass_mark BETWEEN 1 AND 100', name=op.f('ck_training_quiz_pass_mark')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_training_quiz_created_by_id_user')),
    sa.ForeignKeyConstraint(['version_id'], ['sop_version.id'], name=op.f('fk_training_quiz_version_id_sop_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_quiz')),
    sa.UniqueConstraint('version_id', name=op.f('uq_training_quiz_version_id'))
    )
    op.create_table('training_quiz_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['training_assignment.id'], name=op.f('fk_training_quiz_attempt_assignment_id_training_assignment')),
    sa.ForeignKeyConstraint(['quiz_id'], ['training_quiz.id'], name=op.f('fk_training_quiz_attempt_quiz_id_training_quiz')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_quiz_attempt')),
    sa.UniqueConstraint('request_key', name=op.f('uq_training_quiz_attempt_request_key'))
    )
    with op.batch_alter_table('training_quiz_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_quiz_attempt_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_quiz_attempt_quiz_id'), ['quiz_id'], unique=False)

    op.create_table('training_quiz_question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('correct', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['quiz_id'], ['training_quiz.id'], name=op.f('fk_training_quiz_question_quiz_id_training_quiz')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_quiz_question'))
    )
    with op.batch_alter_table('training_quiz_question', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_quiz_question_quiz_id'), ['quiz_id'], unique=False)



def downgrade():
    with op.batch_alter_table('training_quiz_question', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_quiz_question_quiz_id'))

    op.drop_table('training_quiz_question')
    with op.batch_alter_table('training_quiz_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_quiz_attempt_quiz_id'))
        batch_op.drop_index(batch_op.f('ix_training_quiz_attempt_assignment_id'))

    op.drop_table('training_quiz_attempt')
    op.drop_table('training_quiz')
    with op.batch_alter_table('training_assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_training_assignment_current', postgresql_where=sa.text('current'), sqlite_where=sa.text('current'))
        batch_op.drop_index(batch_op.f('ix_training_assignment_version_id'))
        batch_op.drop_index(batch_op.f('ix_training_assignment_session_id'))
        batch_op.drop_index('ix_training_assignment_open_due')
        batch_op.drop_index('ix_training_assignment_document_user')

    op.drop_table('training_assignment')
    op.drop_table('training_session_document')
    with op.batch_alter_table('training_session_attendee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_session_attendee_user_id'))
        batch_op.drop_index(batch_op.f('ix_training_session_attendee_session_id'))

    op.drop_table('training_session_attendee')
    with op.batch_alter_table('training_rule', schema=None) as batch_op:
        batch_op.drop_index('uq_training_rule_user', postgresql_where=sa.text('user_id IS NOT NULL'), sqlite_where=sa.text('user_id IS NOT NULL'))
        batch_op.drop_index('uq_training_rule_position', postgresql_where=sa.text('position_id IS NOT NULL'), sqlite_where=sa.text('position_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_training_rule_user_id'))
        batch_op.drop_index(batch_op.f('ix_training_rule_position_id'))
        batch_op.drop_index(batch_op.f('ix_training_rule_document_id'))

    op.drop_table('training_rule')
    with op.batch_alter_table('training_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_session_trainer_id'))
        batch_op.drop_index(batch_op.f('ix_training_session_starts_at'))
        batch_op.drop_index(batch_op.f('ix_training_session_department_id'))

    op.drop_table('training_session')
    with op.batch_alter_table('qualification_certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qualification_certificate_user_id'))
        batch_op.drop_index(batch_op.f('ix_qualification_certificate_type_id'))
        batch_op.drop_index(batch_op.f('ix_qualification_certificate_expires_on'))

    op.drop_table('qualification_certificate')
    op.drop_table('qualification_position')
    op.drop_table('training_type_setting')
    op.drop_table('qualification_type')
