"""The linkage store: providers, links, verifications, revoked serials, CRL metadata, audit log.

SQLAlchemy 2.x and Alembic are imported only here (import contract). `engine.Database` opens
SQLite (default, WAL) or PostgreSQL (`postgresql+psycopg://`) and runs the shipped migrations;
the repositories (`verification`, `revocation`, `links`, `audit`) hand out frozen dataclasses
(`records`), never ORM rows. `crlimport` reads CRL files and hands each to the check it is
given (`kiosk.verify.crl`: the signature and the RFC 5280 rules are verification policy, not
storage); `sqlitecrl` loads a checked national-scale CRL into SQLite without holding the write
lock for long.
"""
