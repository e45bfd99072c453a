"""quality: processes and ISO clauses, responsibility matrix, e-signatures, pending imports, policy, objectives

Revision ID: 00875b50149e
Revises: 986ae13bfcb4
Create Date: 2026-11-24 02:35:37.954576

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '00875b50149e'
down_revision = '986ae13bfcb4'
branch_labels = None
depends_on = None


ISO_CLAUSES = [
    ('4', '组织环境'),
    ('4.1', '理解组织及其环境'),
    ('4.2', '理解相关方的需求和期望'),
    ('4.3', '确定质量管理体系的范围'),
    ('4.4', '质量管理体系及其过程'),
    ('5', '领导作用'),
    ('5.1', '领导作用和承诺'),
    ('5.1.1', '总则'),
    ('5.1.2', '以顾客为关注焦点'),
    ('5.2', '方针'),
    ('5.2.1', '制定质量方针'),
    ('5.2.2', '沟通质量方针'),
    ('5.3', '组织的岗位、职责和权限'),
    ('6', '策划'),
    ('6.1', '应对风险和机遇的措施'),
    ('6.2', '质量目标及其实现的策划'),
    ('6.3', '变更的策划'),
    ('7', '支持'),
    ('7.1', '资源'),
    ('7.1.1', '总则'),
    ('7.1.2', '人员'),
    ('7.1.3', '基础设施'),
    ('7.1.4', '过程运行环境'),
    ('7.1.5', '监视和测量资源'),
    ('7.1.6', '组织的知识'),
    ('7.2', '能力'),
    ('7.3', '意识'),
    ('7.4', '沟通'),
    ('7.5', '成文信息'),
    ('7.5.1', '总则'),
    ('7.5.2', '创建和更新'),
    ('7.5.3', '成文信息的控制'),
    ('8', '运行'),
    ('8.1', '运行的策划和控制'),
    ('8.2', '产品和服务的要求'),
    ('8.2.1', '顾客沟通'),
    ('8.2.2', '产品和服务要求的确定'),
    ('8.2.3', '产品和服务要求的评审'),
    ('8.2.4', '产品和服务要求的更改'),
    ('8.3', '产品和服务的设计和开发'),
    ('8.4', '外部提供的过程、产品和服务的控制'),
    ('8.5', '生产和服务提供'),
    ('8.5.1', '生产和服务提供的控制'),
    ('8.5.2', '标识和可追溯性'),
    ('8.5.3', '顾客或外部供方的财产'),
    ('8.5.4', '防护'),
    ('8.5.5', '交付后的活动'),
    ('8.5.6', '更改控制'),
    ('8.6', '产品和服务的放行'),
    ('8.7', '不合格输出的控制'),
    ('9', '绩效评价'),
    ('9.1', '监视、测量、分析和评价'),
    ('9.1.1', '总则'),
    ('9.1.2', '顾客满意'),
    ('9.1.3', '分析与评价'),
    ('9.2', '内部审核'),
    ('9.3', '管理评审'),
    ('10', '改进'),
    ('10.1', '总则'),
    ('10.2', '不合格和纠正措施'),
    ('10.3', '持续改进'),
]


def _sort_key(code: str) -> str:
    """'9.1.2' → '0009.0001.0002', so clauses sort in document order as text."""
    return ".".join(part.zfill(4) for part in code.split("."))


def upgrade():
    op.create_table('iso_clause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('sort_key', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iso_clause')),
    sa.UniqueConstraint('code', name=op.f('uq_iso_clause_code'))
    )
    with op.batch_alter_table('iso_clause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_iso_clause_sort_key'), ['sort_key'], unique=False)

    # The clause list of GB/T 19001-2016 (ISO 9001:2015) in Chinese: reference data every installation needs,
    # frozen here as it was when this migration was written (a later change to portal/processes/clauses.py
    # needs a migration of its own).
    op.bulk_insert(
        sa.table("iso_clause", sa.column("code", sa.String), sa.column("title", sa.String), sa.column("sort_key", sa.String)),
        [{"code": code, "title": title, "sort_key": _sort_key(code)} for code, title in ISO_CLAUSES],
    )
    op.create_table('process',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['process.id'], name=op.f('fk_process_parent_id_process')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process')),
    sa.UniqueConstraint('code', name=op.f('uq_process_code'))
    )
    with op.batch_alter_table('process', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_parent_id'), ['parent_id'], unique=False)

    op.create_table('process_clause',
    sa.Column('process_id', sa.Integer(), nullable=False),
    sa.Column('clause_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['clause_id'], ['iso_clause.id'], name=op.f('fk_process_clause_clause_id_iso_clause')),
    sa.ForeignKeyConstraint(['process_id'], ['process.id'], name=op.f('fk_process_clause_process_id_process'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('process_id', 'clause_id', name=op.f('pk_process_clause'))
    )
    op.create_table('quality_objective',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('process_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('metric_definition', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('target', sa.Numeric(precision=16, scale=4), nullable=False),
    sa.Column('direction', sa.String(length=2), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('data_source', sa.String(length=64), nullable=False),
    sa.Column('tolerance_percent', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('current_status', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_quality_objective_department_id_department')),
    sa.ForeignKeyConstraint(['process_id'], ['process.id'], name=op.f('fk_quality_objective_process_id_process')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_objective'))
    )
    with op.batch_alter_table('quality_objective', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_objective_active'), ['active'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_objective_current_status'), ['current_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_objective_data_source'), ['data_source'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_objective_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_objective_period'), ['period'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_objective_process_id'), ['process_id'], unique=False)

    op.create_table('pending_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_pending_import_uploaded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_import'))
    )
    with op.batch_alter_table('pending_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_import_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_import_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_import_uploaded_by_id'), ['uploaded_by_id'], unique=False)

    op.create_table('quality_objective_measurement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('objective_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('value', sa.Numeric(precision=16, scale=4), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['entered_by_id'], ['user.id'], name=op.f('fk_quality_objective_measurement_entered_by_id_user')),
    sa.ForeignKeyConstraint(['objective_id'], ['quality_objective.id'], name=op.f('fk_quality_objective_measurement_objective_id_quality_objective')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_objective_measurement')),
    sa.UniqueConstraint('objective_id', 'period_start', name='uq_quality_objective_measurement_period')
    )
    with op.batch_alter_table('quality_objective_measurement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_objective_measurement_entered_by_id'), ['entered_by_id'], unique=False)

    op.create_table('raci_assignment',
    sa.Column('process_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=1), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("role IN ('R', 'A', 'C', 'I')", name=op.f('ck_raci_assignment_role_letter')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_raci_assignment_department_id_department')),
    sa.ForeignKeyConstraint(['process_id'], ['process.id'], name=op.f('fk_raci_assignment_process_id_process')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_raci_assignment_updated_by_id_user')),
    sa.PrimaryKeyConstraint('process_id', 'department_id', name=op.f('pk_raci_assignment'))
    )
    with op.batch_alter_table('raci_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_raci_assignment_department_id'), ['department_id'], unique=False)
        batch_op.create_index('uq_raci_assignment_one_a', ['process_id'], unique=True, sqlite_where=sa.text("role = 'A'"), postgresql_where=sa.text("role = 'A'"))

    op.create_table('raci_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('changes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_raci_revision_actor_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raci_revision'))
    )
    op.create_table('signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signer_id', sa.Integer(), nullable=False),
    sa.Column('signer_name', sa.String(length=150), nullable=False),
    sa.Column('signer_roles', sa.String(length=200), nullable=False),
    sa.Column('meaning', sa.String(length=32), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['signer_id'], ['user.id'], name=op.f('fk_signature_signer_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature'))
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index('ix_signature_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_signer_id'), ['signer_id'], unique=False)

    op.create_table('quality_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_signature_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'approved', 'published', 'superseded')", name=op.f('ck_quality_policy_status')),
    sa.ForeignKeyConstraint(['approved_signature_id'], ['signature.id'], name=op.f('fk_quality_policy_approved_signature_id_signature')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_quality_policy_created_by_id_user')),
    sa.ForeignKeyConstraint(['published_by_id'], ['user.id'], name=op.f('fk_quality_policy_published_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_policy')),
    sa.UniqueConstraint('version', name=op.f('uq_quality_policy_version'))
    )
    with op.batch_alter_table('quality_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_policy_approved_signature_id'), ['approved_signature_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_policy_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_policy_published_by_id'), ['published_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_policy_status'), ['status'], unique=False)
        batch_op.create_index('uq_quality_policy_one_published', ['status'], unique=True, postgresql_where=sa.text("status = 'published'"), sqlite_where=sa.text("status = 'published'"))

    op.create_table('policy_acknowledgement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['quality_policy.id'], name=op.f('fk_policy_acknowledgement_policy_id_quality_policy')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_policy_acknowledgement_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_acknowledgement')),
    sa.UniqueConstraint('policy_id', 'user_id', name=op.f('uq_policy_acknowledgement_policy_id_user_id'))
    )
    with op.batch_alter_table('policy_acknowledgement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_acknowledgement_policy_id'), ['policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_policy_acknowledgement_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('roster_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_import_sha256'))
        batch_op.drop_index(batch_op.f('ix_roster_import_uploaded_by_id'))

    op.drop_table('roster_import')


def downgrade():
    # roster_import as the first migration created it (written out portably: autogenerate had reflected it
    # from SQLite).
    op.create_table('roster_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_roster_import_uploaded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_import'))
    )
    with op.batch_alter_table('roster_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_import_uploaded_by_id'), ['uploaded_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_roster_import_sha256'), ['sha256'], unique=False)

    with op.batch_alter_table('policy_acknowledgement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_acknowledgement_user_id'))
        batch_op.drop_index(batch_op.f('ix_policy_acknowledgement_policy_id'))

    op.drop_table('policy_acknowledgement')
    with op.batch_alter_table('quality_policy', schema=None) as batch_op:
        batch_op.drop_index('uq_quality_policy_one_published', postgresql_where=sa.text("status = 'published'"), sqlite_where=sa.text("status = 'published'"))
        batch_op.drop_index(batch_op.f('ix_quality_policy_status'))
        batch_op.drop_index(batch_op.f('ix_quality_policy_published_by_id'))
        batch_op.drop_index(batch_op.f('ix_quality_policy_created_by_id'))
        batch_op.drop_index(batch_op.f('ix_quality_policy_approved_signature_id'))

    op.drop_table('quality_policy')
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_signer_id'))
        batch_op.drop_index('ix_signature_object')

    op.drop_table('signature')
    op.drop_table('raci_revision')
    with op.batch_alter_table('raci_assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_raci_assignment_one_a', sqlite_where=sa.text("role = 'A'"), postgresql_where=sa.text("role = 'A'"))
        batch_op.drop_index(batch_op.f('ix_raci_assignment_department_id'))

    op.drop_table('raci_assignment')
    with op.batch_alter_table('quality_objective_measurement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_objective_measurement_entered_by_id'))

    op.drop_table('quality_objective_measurement')
    with op.batch_alter_table('pending_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_import_uploaded_by_id'))
        batch_op.drop_index(batch_op.f('ix_pending_import_sha256'))
        batch_op.drop_index(batch_op.f('ix_pending_import_kind'))

    op.drop_table('pending_import')
    with op.batch_alter_table('quality_objective', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_objective_process_id'))
        batch_op.drop_index(batch_op.f('ix_quality_objective_period'))
        batch_op.drop_index(batch_op.f('ix_quality_objective_department_id'))
        batch_op.drop_index(batch_op.f('ix_quality_objective_data_source'))
        batch_op.drop_index(batch_op.f('ix_quality_objective_current_status'))
        batch_op.drop_index(batch_op.f('ix_quality_objective_active'))

    op.drop_table('quality_objective')
    op.drop_table('process_clause')
    with op.batch_alter_table('process', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_parent_id'))
        batch_op.drop_index(batch_op.f('ix_process_active'))

    op.drop_table('process')
    with op.batch_alter_table('iso_clause', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_iso_clause_sort_key'))

    op.drop_table('iso_clause')
