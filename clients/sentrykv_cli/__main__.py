"""`python -m sentrykv_cli` behaves like the `sentrykv-cli` script."""

from sentrykv_cli.main import main

if __name__ == "__main__":
    main()
