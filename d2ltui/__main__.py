"""`python -m d2ltui` runs the same CLI as the `d2l-tui` console script."""

from d2ltui.cli import main

if __name__ == "__main__":
    main()
