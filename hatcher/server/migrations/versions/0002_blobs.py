"""A row per stored file (``blobs``), referenced by the artefacts; sizes past 2 GiB.

Every distinct sha256 of ``artefacts`` gets a row whose key is the file store's content
address (``aa/<sha256>``), where the files of earlier releases already are. Artefacts
then refer to their blob (``ON DELETE RESTRICT``: a referenced blob cannot be removed),
and ``size`` becomes a 64-bit integer (PostgreSQL's ``integer`` stops at 2 GiB).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("unreferenced_since", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("sha256"))
    op.create_index("ix_blobs_unreferenced_since", "blobs", ["unreferenced_since"], unique=False)
    # substr(x, 1, 2) is spelled the same in SQLite and PostgreSQL; times are naive UTC, as the models write them.
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    op.get_bind().execute(sa.text(
        "INSERT INTO blobs (sha256, key, md5, size, created, unreferenced_since) "
        "SELECT sha256, substr(sha256, 1, 2) || '/' || sha256, MIN(md5), MIN(size), :now, NULL "
        "FROM artefacts GROUP BY sha256").bindparams(sa.bindparam("now", now, type_=sa.DateTime())))
    with op.batch_alter_table("artefacts") as batch:
        batch.alter_column("size", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)
        batch.create_foreign_key("fk_artefacts_sha256_blobs", "blobs", ["sha256"], ["sha256"], ondelete="RESTRICT")


def downgrade() -> None:
    with op.batch_alter_table("artefacts") as batch:
        batch.drop_constraint("fk_artefacts_sha256_blobs", type_="foreignkey")
        batch.alter_column("size", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
    op.drop_index("ix_blobs_unreferenced_since", table_name="blobs")
    op.drop_table("blobs")
