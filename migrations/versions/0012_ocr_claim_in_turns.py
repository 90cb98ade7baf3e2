"""The OCR queue's claim in turns reads an index again: pending pages by (turn, id).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

The claim hands out pages in turns of 20 per document (ocr/worker.py, TURN_PAGES), ORDER BY
(number - 1) / 20, id, so that a small document passes a huge one. Ordered so, the claim sorted every
pending page, where ordering by id alone read the first rows of ix_pages_pending: a partial index over
exactly that expression makes it an index scan again. The expression is written here as the claim writes
it (literals, not parameters), since both planners match an index expression only as written. Its size is
that of the pending pages, which OCR keeps small; building it reads the pages table once (figures in
docs/benchmarks.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with ekakte.ocr.worker.TURN_PAGES and its claim's ORDER BY.
_TURN = "((number - 1) / 20)"


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_pages_pending_turns ON pages ({_TURN}, id) WHERE ocr_state = 'pending'")


def downgrade() -> None:
    op.execute("DROP INDEX ix_pages_pending_turns")
