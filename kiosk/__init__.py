"""jpki-kiosk: one My Number Card, many services."""

__version__ = "0.1.0"
