"""Subcommands of the `kiosk` command, one module each (see kiosk/cli.py)."""
