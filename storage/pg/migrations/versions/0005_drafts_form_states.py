"""Drafts of form definitions and form states, for the builder (Store.save_draft,
Store.set_form_closed).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

One draft per form id, one state per form id: a document each, as orgs and users are stored.
The draft's revision (doc->'revision') is what save_draft compares for an optimistic save.
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE drafts (
    form_id text COLLATE "C" NOT NULL CONSTRAINT drafts_pkey PRIMARY KEY,
    doc     jsonb NOT NULL
);
CREATE TABLE form_states (
    form_id text COLLATE "C" NOT NULL CONSTRAINT form_states_pkey PRIMARY KEY,
    doc     jsonb NOT NULL
);
""")


def downgrade() -> None:
    op.execute("DROP TABLE form_states; DROP TABLE drafts")
