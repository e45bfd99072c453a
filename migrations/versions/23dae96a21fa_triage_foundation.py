"""Triage (工单处理), the foundation: tickets (one per feedback item, with the queue's keyset indexes and the SLA
scan's partial index), their events, pauses, call-backs (回访), appeals (申诉) with one pending per ticket, evidence
files, SLA policies per priority, category routing rules and incidents.

Revision ID: 23dae96a21fa
Revises: d8d1d883c7e9
Create Date: 2026-12-03 14:41:18.320387

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '23dae96a21fa'
down_revision = 'd8d1d883c7e9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sla_policy',
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('first_response_minutes', sa.Integer(), nullable=False),
    sa.Column('resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('warn_at', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('first_response_minutes > 0 AND resolution_minutes >= first_response_minutes', name=op.f('ck_sla_policy_targets')),
    sa.PrimaryKeyConstraint('priority', name=op.f('pk_sla_policy'))
    )
    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_point_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_incident_department_id_department')),
    sa.ForeignKeyConstraint(['service_point_id'], ['service_point.id'], name=op.f('fk_incident_service_point_id_service_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident'))
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_service_point_id'), ['service_point_id'], unique=False)

    op.create_table('routing_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_routing_rule_created_by_id_user')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_routing_rule_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rule')),
    sa.UniqueConstraint('category', name=op.f('uq_routing_rule_category'))
    )
    op.create_table('ticket',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feedback_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('service_point_id', sa.Integer(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('routed_by', sa.String(length=16), nullable=False),
    sa.Column('negative', sa.Boolean(), nullable=False),
    sa.Column('callback_required', sa.Boolean(), nullable=False),
    sa.Column('is_spam', sa.Boolean(), nullable=False),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sla_warned', sa.JSON(), nullable=False),
    sa.Column('escalation', sa.Integer(), nullable=False),
    sa.Column('rectification_due_on', sa.Date(), nullable=True),
    sa.Column('rectification_note', sa.Text(), nullable=False),
    sa.Column('rectified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('appeal_status', sa.String(length=10), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("priority IN ('high', 'normal', 'low')", name=op.f('ck_ticket_priority')),
    sa.CheckConstraint("status IN ('new', 'accepted', 'in_progress', 'awaiting_customer', 'resolved', 'closed')", name=op.f('ck_ticket_status')),
    sa.CheckConstraint('duplicate_of_id IS NULL OR duplicate_of_id <> id', name=op.f('ck_ticket_not_own_duplicate')),
    sa.CheckConstraint('escalation BETWEEN 0 AND 3', name=op.f('ck_ticket_escalation')),
    sa.ForeignKeyConstraint(['assignee_id'], ['user.id'], name=op.f('fk_ticket_assignee_id_user')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_ticket_department_id_department')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['ticket.id'], name=op.f('fk_ticket_duplicate_of_id_ticket')),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], name=op.f('fk_ticket_feedback_id_feedback')),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_ticket_incident_id_incident')),
    sa.ForeignKeyConstraint(['service_point_id'], ['service_point.id'], name=op.f('fk_ticket_service_point_id_service_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket')),
    sa.UniqueConstraint('feedback_id', name=op.f('uq_ticket_feedback_id'))
    )
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_duplicate_of_id'), ['duplicate_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_ticket_queue', ['department_id', 'received_at', 'id'], unique=False)
        batch_op.create_index('ix_ticket_queue_status', ['department_id', 'status', 'received_at', 'id'], unique=False)
        batch_op.create_index('ix_ticket_resolution_due', ['resolution_due_at'], unique=False, postgresql_where=sa.text("status IN ('new', 'accepted', 'in_progress')"), sqlite_where=sa.text("status IN ('new', 'accepted', 'in_progress')"))
        batch_op.create_index(batch_op.f('ix_ticket_service_point_id'), ['service_point_id'], unique=False)

    op.create_table('ticket_appeal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('grounds', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('filed_by_id', sa.Integer(), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.Column('signature_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("grounds IN ('mistaken', 'malicious')", name=op.f('ck_ticket_appeal_grounds')),
    sa.CheckConstraint("status IN ('pending', 'upheld', 'rejected')", name=op.f('ck_ticket_appeal_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_ticket_appeal_decided_by_id_user')),
    sa.ForeignKeyConstraint(['filed_by_id'], ['user.id'], name=op.f('fk_ticket_appeal_filed_by_id_user')),
    sa.ForeignKeyConstraint(['signature_id'], ['signature.id'], name=op.f('fk_ticket_appeal_signature_id_signature')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_appeal_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_appeal'))
    )
    with op.batch_alter_table('ticket_appeal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_appeal_ticket_id'), ['ticket_id'], unique=False)
        batch_op.create_index('uq_ticket_appeal_pending', ['ticket_id'], unique=True, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))

    op.create_table('ticket_callback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('called_by_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.CheckConstraint("outcome IN ('reached', 'not_reached')", name=op.f('ck_ticket_callback_outcome')),
    sa.ForeignKeyConstraint(['called_by_id'], ['user.id'], name=op.f('fk_ticket_callback_called_by_id_user')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_callback_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_callback')),
    sa.UniqueConstraint('request_key', name=op.f('uq_ticket_callback_request_key'))
    )
    with op.batch_alter_table('ticket_callback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_callback_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticket_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_ticket_event_actor_id_user')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_event_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_event')),
    sa.UniqueConstraint('request_key', name=op.f('uq_ticket_event_request_key'))
    )
    with op.batch_alter_table('ticket_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_event_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticket_pause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_pause_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_pause'))
    )
    with op.batch_alter_table('ticket_pause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_pause_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticket_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('appeal_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=12), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('mime_type', sa.String(length=120), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appeal_id'], ['ticket_appeal.id'], name=op.f('fk_ticket_file_appeal_id_ticket_appeal')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_file_ticket_id_ticket')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_ticket_file_uploaded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_file')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_ticket_file_stored_name'))
    )
    with op.batch_alter_table('ticket_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_file_appeal_id'), ['appeal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_file_ticket_id'), ['ticket_id'], unique=False)



def downgrade():
    with op.batch_alter_table('ticket_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_file_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_ticket_file_appeal_id'))

    op.drop_table('ticket_file')
    with op.batch_alter_table('ticket_pause', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_pause_ticket_id'))

    op.drop_table('ticket_pause')
    with op.batch_alter_table('ticket_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_event_ticket_id'))

    op.drop_table('ticket_event')
    with op.batch_alter_table('ticket_callback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_callback_ticket_id'))

    op.drop_table('ticket_callback')
    with op.batch_alter_table('ticket_appeal', schema=None) as batch_op:
        batch_op.drop_index('uq_ticket_appeal_pending', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_ticket_appeal_ticket_id'))

    op.drop_table('ticket_appeal')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_service_point_id'))
        batch_op.drop_index('ix_ticket_resolution_due', postgresql_where=sa.text("status IN ('new', 'accepted', 'in_progress')"), sqlite_where=sa.text("status IN ('new', 'accepted', 'in_progress')"))
        batch_op.drop_index('ix_ticket_queue_status')
        batch_op.drop_index('ix_ticket_queue')
        batch_op.drop_index(batch_op.f('ix_ticket_incident_id'))
        batch_op.drop_index(batch_op.f('ix_ticket_duplicate_of_id'))
        batch_op.drop_index(batch_op.f('ix_ticket_assignee_id'))

    op.drop_table('ticket')
    op.drop_table('routing_rule')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_service_point_id'))
        batch_op.drop_index(batch_op.f('ix_incident_department_id'))

    op.drop_table('incident')
    op.drop_table('sla_policy')
