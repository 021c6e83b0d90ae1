"""The kiosk's resources as package data: themes/ (Qt stylesheets), icons/ (SVG), sounds/ (WAV).

Read them through `importlib.resources.files("kiosk.resources")` (kiosk.ui.style does), never
through a path relative to a checkout: a wheel or the Debian package carries them here.
PROVENANCE.md says where each one comes from.
"""
