"""`python -m robocall.cli`: the `robocall` command."""

from robocall.cli import main

if __name__ == "__main__":  # not when a tool walks the package and imports every module
    main()
