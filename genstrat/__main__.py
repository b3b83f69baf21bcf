"""`python -m genstrat ...` (and `torchrun -m genstrat ...`) run the command-line tool."""

from genstrat.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
