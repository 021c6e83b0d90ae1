"""The POS side of shop payments: the HTTP API through which a shop's point-of-sale system
rings up a payment request for a kiosk terminal (kiosk.pos.api, docs/pos-api.md)."""
