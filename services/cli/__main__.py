"""`python -m services.cli` is the `teei` command."""

from services.cli.main import console

console()
