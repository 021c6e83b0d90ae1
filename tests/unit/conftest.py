"""Fixtures for the unit tests.

The shared PKI and card fixtures (`test_pki`, `card_file`, `card_path`) live in
tests/pki_fixtures.py, which the top-level tests/conftest.py loads as a plugin for every tier.
"""
