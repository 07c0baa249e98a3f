"""``python -m hatcher``: the hatcher command line."""

from hatcher.cli.main import main

if __name__ == "__main__":  # pragma: no branch
    main()
