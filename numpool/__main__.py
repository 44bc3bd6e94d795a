"""``python -m numpool``: the same command line as the ``numpool`` script."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
