"""`python -m robocall.cli`: the `robocall` command."""

from robocall.cli import main

main()
