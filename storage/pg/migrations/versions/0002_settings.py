"""Deployment settings shared by every host (Store.setting): the secret key that signs session
cookies and CSRF tokens, so that a request may land on any host.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE settings (
    key     text COLLATE "C" NOT NULL CONSTRAINT settings_pkey PRIMARY KEY,
    value   text NOT NULL
);
""")


def downgrade() -> None:
    op.execute("DROP TABLE settings")
