"""The kiosk's flow: a pure state machine the screens render (no Qt, no card)."""
