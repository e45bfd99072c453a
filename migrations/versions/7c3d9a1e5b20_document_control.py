"""document control: the register, versions, files, reviewers, controlled copies, the search index
(an FTS5 table on SQLite, a GIN index on PostgreSQL), and the signature's comment

Revision ID: 7c3d9a1e5b20
Revises: 5e1f0a7c2b91
Create Date: 2026-12-02 17:52:24.580358

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3d9a1e5b20'
down_revision = '5e1f0a7c2b91'
branch_labels = None
depends_on = None

# sop_document and sop_version refer to each other. SQLite takes the document's foreign keys inline (it checks
# them only when rows are written); PostgreSQL gets them once sop_version exists.
VERSION_FKS = (("fk_sop_document_current_version", "current_version_id"),
               ("fk_sop_document_latest_version", "latest_version_id"))
FTS_TABLE, PG_INDEX = "sop_search_fts", "ix_sop_search_tsv"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _version_fks(inline: bool):
    if inline and _postgres():
        return ()
    return tuple(sa.ForeignKeyConstraint([column], ['sop_version.id'], name=name) for name, column in VERSION_FKS)


def upgrade():
    op.create_table('sop_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('doc_type', sa.String(length=16), nullable=False),
    sa.Column('process_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('confidentiality', sa.String(length=16), nullable=False),
    sa.Column('review_period_months', sa.Integer(), nullable=False),
    sa.Column('tags', sa.String(length=300), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('edition', sa.String(length=100), nullable=False),
    sa.Column('current_version_id', sa.Integer(), nullable=True),
    sa.Column('latest_version_id', sa.Integer(), nullable=True),
    sa.Column('next_review_on', sa.Date(), nullable=True),
    sa.Column('obsolete_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('obsolete_reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.CheckConstraint("confidentiality IN ('public', 'internal', 'restricted')", name=op.f('ck_sop_document_confidentiality')),
    sa.CheckConstraint("doc_type IN ('manual', 'procedure', 'instruction', 'form', 'record', 'external')", name=op.f('ck_sop_document_doc_type')),
    sa.CheckConstraint('review_period_months BETWEEN 1 AND 120', name=op.f('ck_sop_document_review_period')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_sop_document_created_by_id_user')),
    *_version_fks(inline=True),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_sop_document_department_id_department')),
    sa.ForeignKeyConstraint(['process_id'], ['process.id'], name=op.f('fk_sop_document_process_id_process')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_document')),
    sa.UniqueConstraint('code', name=op.f('uq_sop_document_code')),
    sa.UniqueConstraint('request_key', name=op.f('uq_sop_document_request_key'))
    )
    with op.batch_alter_table('sop_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sop_document_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_document_current_version_id'), ['current_version_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_document_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_document_doc_type'), ['doc_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_document_latest_version_id'), ['latest_version_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_document_next_review_on'), ['next_review_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_document_process_id'), ['process_id'], unique=False)

    op.create_table('sop_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('mime_type', sa.String(length=120), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_sop_file_uploaded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_file')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_sop_file_stored_name'))
    )
    with op.batch_alter_table('sop_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sop_file_uploaded_by_id'), ['uploaded_by_id'], unique=False)

    op.create_table('sop_search',
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('tokens', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['sop_document.id'], name=op.f('fk_sop_search_document_id_sop_document')),
    sa.PrimaryKeyConstraint('document_id', name=op.f('pk_sop_search'))
    )
    op.create_table('sop_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('major', sa.Integer(), nullable=False),
    sa.Column('minor', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('change_summary', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('returned_comment', sa.Text(), nullable=False),
    sa.Column('returned_by_id', sa.Integer(), nullable=True),
    sa.Column('approver_id', sa.Integer(), nullable=True),
    sa.Column('approved_signature_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('effective_on', sa.Date(), nullable=True),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retraining_required', sa.Boolean(), nullable=False),
    sa.Column('retraining_reason', sa.String(length=500), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'in_review', 'in_approval', 'approved', 'effective', 'superseded', 'obsolete')", name=op.f('ck_sop_version_status')),
    sa.CheckConstraint('major >= 0 AND minor >= 0', name=op.f('ck_sop_version_number')),
    sa.ForeignKeyConstraint(['approved_signature_id'], ['signature.id'], name=op.f('fk_sop_version_approved_signature_id_signature')),
    sa.ForeignKeyConstraint(['approver_id'], ['user.id'], name=op.f('fk_sop_version_approver_id_user')),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_sop_version_author_id_user')),
    sa.ForeignKeyConstraint(['document_id'], ['sop_document.id'], name=op.f('fk_sop_version_document_id_sop_document')),
    sa.ForeignKeyConstraint(['file_id'], ['sop_file.id'], name=op.f('fk_sop_version_file_id_sop_file')),
    sa.ForeignKeyConstraint(['returned_by_id'], ['user.id'], name=op.f('fk_sop_version_returned_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_version')),
    sa.UniqueConstraint('document_id', 'major', 'minor', name='uq_sop_version_number')
    )
    with op.batch_alter_table('sop_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sop_version_approved_signature_id'), ['approved_signature_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_version_approver_id'), ['approver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_version_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_version_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_version_effective_on'), ['effective_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_version_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_version_returned_by_id'), ['returned_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_version_status'), ['status'], unique=False)
        batch_op.create_index('uq_sop_version_one_effective', ['document_id'], unique=True, postgresql_where=sa.text("status = 'effective'"), sqlite_where=sa.text("status = 'effective'"))
        batch_op.create_index('uq_sop_version_one_open', ['document_id'], unique=True, postgresql_where=sa.text("status IN ('draft', 'in_review', 'in_approval', 'approved')"), sqlite_where=sa.text("status IN ('draft', 'in_review', 'in_approval', 'approved')"))
    if _postgres():
        for name, column in VERSION_FKS:
            op.create_foreign_key(name, 'sop_document', 'sop_version', [column], ['id'])
        op.execute(f"CREATE INDEX {PG_INDEX} ON sop_search USING gin (to_tsvector('simple', tokens))")
    else:
        op.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(tokens)")

    op.create_table('sop_copy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('holder_user_id', sa.Integer(), nullable=True),
    sa.Column('holder_place', sa.String(length=200), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recall_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recalled_by_id', sa.Integer(), nullable=True),
    sa.Column('recall_note', sa.String(length=300), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['holder_user_id'], ['user.id'], name=op.f('fk_sop_copy_holder_user_id_user')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user.id'], name=op.f('fk_sop_copy_issued_by_id_user')),
    sa.ForeignKeyConstraint(['recalled_by_id'], ['user.id'], name=op.f('fk_sop_copy_recalled_by_id_user')),
    sa.ForeignKeyConstraint(['version_id'], ['sop_version.id'], name=op.f('fk_sop_copy_version_id_sop_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_copy')),
    sa.UniqueConstraint('request_key', name=op.f('uq_sop_copy_request_key')),
    sa.UniqueConstraint('version_id', 'number', name='uq_sop_copy_number')
    )
    with op.batch_alter_table('sop_copy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sop_copy_holder_user_id'), ['holder_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_copy_recall_requested_at'), ['recall_requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_copy_version_id'), ['version_id'], unique=False)

    op.create_table('sop_reviewer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('signature_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_sop_reviewer_department_id_department')),
    sa.ForeignKeyConstraint(['signature_id'], ['signature.id'], name=op.f('fk_sop_reviewer_signature_id_signature')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_sop_reviewer_user_id_user')),
    sa.ForeignKeyConstraint(['version_id'], ['sop_version.id'], name=op.f('fk_sop_reviewer_version_id_sop_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_reviewer')),
    sa.UniqueConstraint('version_id', 'user_id', name='uq_sop_reviewer')
    )
    with op.batch_alter_table('sop_reviewer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sop_reviewer_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sop_reviewer_version_id'), ['version_id'], unique=False)

    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comment', sa.Text(), server_default='', nullable=False))



def downgrade():
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_column('comment')

    with op.batch_alter_table('sop_reviewer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sop_reviewer_version_id'))
        batch_op.drop_index(batch_op.f('ix_sop_reviewer_user_id'))

    op.drop_table('sop_reviewer')
    with op.batch_alter_table('sop_copy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sop_copy_version_id'))
        batch_op.drop_index(batch_op.f('ix_sop_copy_recall_requested_at'))
        batch_op.drop_index(batch_op.f('ix_sop_copy_holder_user_id'))

    op.drop_table('sop_copy')
    with op.batch_alter_table('sop_version', schema=None) as batch_op:
        batch_op.drop_index('uq_sop_version_one_open', postgresql_where=sa.text("status IN ('draft', 'in_review', 'in_approval', 'approved')"), sqlite_where=sa.text("status IN ('draft', 'in_review', 'in_approval', 'approved')"))
        batch_op.drop_index('uq_sop_version_one_effective', postgresql_where=sa.text("status = 'effective'"), sqlite_where=sa.text("status = 'effective'"))
        batch_op.drop_index(batch_op.f('ix_sop_version_status'))
        batch_op.drop_index(batch_op.f('ix_sop_version_returned_by_id'))
        batch_op.drop_index(batch_op.f('ix_sop_version_file_id'))
        batch_op.drop_index(batch_op.f('ix_sop_version_effective_on'))
        batch_op.drop_index(batch_op.f('ix_sop_version_document_id'))
        batch_op.drop_index(batch_op.f('ix_sop_version_author_id'))
        batch_op.drop_index(batch_op.f('ix_sop_version_approver_id'))
        batch_op.drop_index(batch_op.f('ix_sop_version_approved_signature_id'))

    if _postgres():
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        for name, _column in VERSION_FKS:
            op.drop_constraint(name, 'sop_document', type_='foreignkey')
    else:
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    op.drop_table('sop_version')
    op.drop_table('sop_search')
    with op.batch_alter_table('sop_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sop_file_uploaded_by_id'))

    op.drop_table('sop_file')
    with op.batch_alter_table('sop_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sop_document_process_id'))
        batch_op.drop_index(batch_op.f('ix_sop_document_next_review_on'))
        batch_op.drop_index(batch_op.f('ix_sop_document_latest_version_id'))
        batch_op.drop_index(batch_op.f('ix_sop_document_doc_type'))
        batch_op.drop_index(batch_op.f('ix_sop_document_department_id'))
        batch_op.drop_index(batch_op.f('ix_sop_document_current_version_id'))
        batch_op.drop_index(batch_op.f('ix_sop_document_created_by_id'))

    op.drop_table('sop_document')
