"""notifications: in-app, outbox deliveries, digests, preferences, captured email, webhooks, settings; calendar overrides

Revision ID: 986ae13bfcb4
Revises: bd0e30b27fce
Create Date: 2026-11-24 02:07:24.608650

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '986ae13bfcb4'
down_revision = 'bd0e30b27fce'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notify_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('smtp_host', sa.String(length=255), nullable=False),
    sa.Column('smtp_port', sa.Integer(), nullable=False),
    sa.Column('smtp_security', sa.String(length=16), nullable=False),
    sa.Column('smtp_user', sa.String(length=255), nullable=False),
    sa.Column('smtp_password_encrypted', sa.Text(), nullable=False),
    sa.Column('smtp_from', sa.String(length=255), nullable=False),
    sa.Column('quiet_start', sa.String(length=5), nullable=False),
    sa.Column('quiet_end', sa.String(length=5), nullable=False),
    sa.Column('digest_time', sa.String(length=5), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_settings'))
    )
    op.create_table('webhook',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_webhook_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook'))
    )
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_department_id'), ['department_id'], unique=False)

    op.create_table('calendar_override',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=100), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_calendar_override_created_by_id_user')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_override'))
    )
    op.create_table('digest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_digest_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest')),
    sa.UniqueConstraint('user_id', 'day', name='uq_digest_user_day')
    )
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_notification_department_id_department')),
    sa.ForeignKeyConstraint(['recipient_id'], ['user.id'], name=op.f('fk_notification_recipient_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('recipient_id', 'dedupe_key', name='uq_notification_recipient_dedupe')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_recipient_created', ['recipient_id', 'created_at'], unique=False)
        batch_op.create_index('ix_notification_recipient_unread', ['recipient_id', 'read_at'], unique=False)

    op.create_table('notification_preference',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_notification_preference_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_notification_preference'))
    )
    op.create_table('delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.Column('digest_id', sa.Integer(), nullable=True),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['digest_id'], ['digest.id'], name=op.f('fk_delivery_digest_id_digest')),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], name=op.f('fk_delivery_notification_id_notification')),
    sa.ForeignKeyConstraint(['recipient_id'], ['user.id'], name=op.f('fk_delivery_recipient_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_delivery_idempotency_key'))
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_digest_id'), ['digest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_notification_id'), ['notification_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_recipient_id'), ['recipient_id'], unique=False)
        batch_op.create_index('ix_delivery_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('captured_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('to', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], name=op.f('fk_captured_email_delivery_id_delivery')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_captured_email'))
    )
    with op.batch_alter_table('captured_email', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_captured_email_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_captured_email_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_captured_email_to'), ['to'], unique=False)



def downgrade():
    with op.batch_alter_table('captured_email', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_captured_email_to'))
        batch_op.drop_index(batch_op.f('ix_captured_email_delivery_id'))
        batch_op.drop_index(batch_op.f('ix_captured_email_created_at'))

    op.drop_table('captured_email')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_status_next')
        batch_op.drop_index(batch_op.f('ix_delivery_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_notification_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_digest_id'))

    op.drop_table('delivery')
    op.drop_table('notification_preference')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_recipient_unread')
        batch_op.drop_index('ix_notification_recipient_created')

    op.drop_table('notification')
    op.drop_table('digest')
    op.drop_table('calendar_override')
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_department_id'))

    op.drop_table('webhook')
    op.drop_table('notify_settings')
