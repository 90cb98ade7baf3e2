"""Signing in to the service: local passwords, sign-in throttling, sessions, and OpenID sign-ins under way.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

- principals.password_hash: argon2id (PHC string) of a local password, NULL for users who sign in only
  through the identity provider; password_set_at when it was set.
- login_throttle: failed sign-ins by user and by client address (key "user:NAME" / "address:IP"), and
  until when further tries are refused. Shared by every server process, like everything else.
- web_sessions: the service's sessions, by the SHA-256 of their cookie (the cookie itself is never
  stored): whose, how signed in, since when, last seen, absolute end, the CSRF token of its forms, and the
  words of the session's last search (highlighted in the document it opens; gone with the session).
- login_flows: OpenID sign-ins under way (state, nonce, PKCE verifier), by the SHA-256 of their state,
  for ten minutes; whichever server process receives the callback finishes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("principals", sa.Column("password_hash", sa.String(length=200), nullable=True))
    op.add_column("principals", sa.Column("password_set_at", _TIME, nullable=True))
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", _TIME, nullable=False),
        sa.Column("locked_until", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttle"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("last_seen_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("search_words", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_principal", "web_sessions", ["principal"])
    op.create_table(
        "login_flows",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("return_to", sa.String(length=500), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_flows"),
    )


def downgrade() -> None:
    op.drop_table("login_flows")
    op.drop_index("ix_web_sessions_principal", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("login_throttle")
    op.drop_column("principals", "password_set_at")
    op.drop_column("principals", "password_hash")
