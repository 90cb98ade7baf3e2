"""PostgreSQL phrase search: an index of each page's pairs of neighbouring words.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

The GIN index on pages.tsv knows which pages hold a word, not where: for a phrase every page holding all
its words is read again to check their positions (for words that are common alone and rare side by side,
tens of thousands of pages for a few hundred phrases). This index holds, for each page, every pair of
neighbouring indexed words with the distance between them ("berucksichtigt 2 bedarf": a stop word in
between), made from the tsvector by ekakte_word_pairs(). A phrase of two or more indexed words is looked up
as the AND of its own pairs (ekakte_pairs_query(), same function on the phrase's tsvector), which finds
its pages without reading any of the others; search.py checks the phrase itself on what it finds.

Building the index reads every page once: about 0.5 ms a page (108 s for 200,000 pages on 2 cores), with
the table readable but not writable meanwhile. SQLite's FTS5 index checks phrases itself: nothing to do.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each stored position with the next one (lexemes at one position in a fixed order), as
# "lexeme distance lexeme". Pairs longer than 1,000 bytes (two words of hundreds of letters, never
# seen in a letter) are left out on both sides, so they cannot exceed a lexeme's 2 KB limit.
WORD_PAIRS = r"""
CREATE FUNCTION ekakte_word_pairs(v tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_to_tsvector(array_agg(DISTINCT pair)), ''::tsvector) FROM (
    SELECT lexeme || ' ' || (lead(pos) OVER w - pos) || ' ' || lead(lexeme) OVER w AS pair
    FROM (SELECT lexeme, unnest(positions) AS pos FROM unnest(v)) AS t
    WINDOW w AS (ORDER BY pos, lexeme)
  ) AS s WHERE octet_length(pair) <= 1000
$$
"""

# The AND of a phrase's pairs as a tsquery of literal lexemes (quoted, quotes and backslashes escaped);
# NULL when the phrase has fewer than two indexed words.
PAIRS_QUERY = r"""
CREATE FUNCTION ekakte_pairs_query(v tsvector) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT string_agg('''' || replace(replace(pair, '\', '\\'), '''', '''''') || '''', ' & ')::tsquery
  FROM unnest(tsvector_to_array(ekakte_word_pairs(v))) AS pair
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(WORD_PAIRS)
    op.execute(PAIRS_QUERY)
    op.execute("CREATE INDEX ix_pages_word_pairs ON pages USING gin (ekakte_word_pairs(tsv))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_pages_word_pairs")
    op.execute("DROP FUNCTION ekakte_pairs_query(tsvector)")
    op.execute("DROP FUNCTION ekakte_word_pairs(tsvector)")
