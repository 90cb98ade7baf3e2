"""Access rules and the audit trail: teams, principals, roles, memberships, cases.team_id, audit_log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("name", name="uq_teams_name"),
    )
    op.create_table(
        "principals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("health_clearance", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_principals"),
        sa.UniqueConstraint("name", name="uq_principals_name"),
    )
    op.create_table(
        "principal_roles",
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name="fk_principal_roles_principal_id_principals",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("principal_id", "role", name="pk_principal_roles"),
    )
    op.create_table(
        "team_members",
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name="fk_team_members_principal_id_principals",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_team_members_team_id_teams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("principal_id", "team_id", name="pk_team_members"),
    )
    # `cases.team` (free text, never set by 0001's commands) becomes a reference to a team.
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("team")
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_cases_team_id_teams", "teams", ["team_id"], ["id"])
        batch.create_index("ix_cases_team_id", ["team_id"])
    op.create_table(
        "audit_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=True),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.UniqueConstraint("hash", name="uq_audit_log_hash"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_case_number", "audit_log", ["case_number"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    # Append-only in the database too: UPDATE and DELETE are refused by triggers. Whoever may drop
    # triggers can still tamper; that is what the hash chain (`ekakte audit verify`) is for.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ekakte_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
            " FOR EACH ROW EXECUTE FUNCTION ekakte_audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log"
                " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION ekakte_audit_log_append_only()")
    op.drop_table("audit_log")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_team_id")
        batch.drop_constraint("fk_cases_team_id_teams", type_="foreignkey")
        batch.drop_column("team_id")
        batch.add_column(sa.Column("team", sa.String(length=100), nullable=True))
    op.drop_table("team_members")
    op.drop_table("principal_roles")
    op.drop_table("principals")
    op.drop_table("teams")
