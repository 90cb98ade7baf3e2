"""The Aussonderung: records offered to the archive, its decisions, the hand-over, and the messages.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

- disposal_processes: one xdomea process (its ProzessID) per offer: when and by whom it was offered, as of
  which day, to which archive, and when its receipts and hand-overs were exchanged.
- disposal_records: one row per document ever offered (a document is offered once): its process, the
  Akte (case) it was offered in, and its state: offered, undecided (B), keep (A), destroy (V),
  handed_over, archived (the archive confirmed the import, with its reference), failed (the archive
  reported a failed import; it may be handed over again). No foreign key to documents: the row is the
  evidence of what the archive was offered and answered, and outlives the document the sweep deletes.
- disposal_messages: every message written or received, by its SHA-256, so that the same message twice
  is recognised, and what each said can be shown later.
- deletion_protocol.disposal: why the archive's right to the record was satisfied before it was deleted
  (released in advance under a named decision, released by the archive, handed over with its reference,
  or no answer within the answer period). NULL for entries written before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "disposal_processes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("offered_at", _TIME, nullable=False),
        sa.Column("offered_by", sa.String(length=100), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("offer_receipt_at", _TIME, nullable=True),
        sa.Column("appraised_at", _TIME, nullable=True),
        sa.Column("handed_over_at", _TIME, nullable=True),
        sa.Column("handover_receipt_at", _TIME, nullable=True),
        sa.Column("confirmed_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_disposal_processes"),
    )
    op.create_table(
        "disposal_records",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("process_id", sa.String(length=36), nullable=False),
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("offered_on", sa.Date(), nullable=False),
        sa.Column("decided_at", _TIME, nullable=True),
        sa.Column("handed_over_at", _TIME, nullable=True),
        sa.Column("confirmed_at", _TIME, nullable=True),
        sa.Column("archive_reference", sa.String(length=500), nullable=True),
        sa.Column("failure", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["disposal_processes.id"],
            name="fk_disposal_records_process_id_disposal_processes",
        ),
        sa.PrimaryKeyConstraint("document_id", name="pk_disposal_records"),
    )
    op.create_index("ix_disposal_records_process_state", "disposal_records", ["process_id", "state"])
    op.create_table(
        "disposal_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["disposal_processes.id"],
            name="fk_disposal_messages_process_id_disposal_processes",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_disposal_messages"),
    )
    op.create_index("ix_disposal_messages_process_id", "disposal_messages", ["process_id"])
    op.create_index("ix_disposal_messages_sha256", "disposal_messages", ["sha256"])
    op.add_column("deletion_protocol", sa.Column("disposal", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_column("deletion_protocol", "disposal")
    op.drop_index("ix_disposal_messages_sha256", table_name="disposal_messages")
    op.drop_index("ix_disposal_messages_process_id", table_name="disposal_messages")
    op.drop_table("disposal_messages")
    op.drop_index("ix_disposal_records_process_state", table_name="disposal_records")
    op.drop_table("disposal_records")
    op.drop_table("disposal_processes")
