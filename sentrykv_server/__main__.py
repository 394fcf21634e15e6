"""`python -m sentrykv_server` behaves exactly like the `sentrykv-server` script."""

from sentrykv_server.main import main

if __name__ == "__main__":
    main()
