"""`python -m ekakte` runs the CLI."""

from ekakte.cli import main

main()
