"""`python -m avemo.cli`: the `avemo` command."""

from avemo.cli import entry_point

entry_point()
