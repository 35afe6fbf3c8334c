"""Rate-limit counters shared by every host (Store.hit_counter and the rest).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08

UNLOGGED: the counters need not survive a crash of the server (the contract says so), and a
table without WAL costs a public request less; PostgreSQL empties it after a crash, and
standbys do not have it. One row per key, reset in place when its window has ended; rows of
ended windows are purged now and then (the index on expires_at).
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE UNLOGGED TABLE rate_counters (
    key         text COLLATE "C" NOT NULL CONSTRAINT rate_counters_pkey PRIMARY KEY,
    count       bigint NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX rate_counters_expires_at_idx ON rate_counters (expires_at);
""")


def downgrade() -> None:
    op.execute("DROP TABLE rate_counters")
