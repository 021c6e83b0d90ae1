"""The linkage store: providers, links, verifications, revoked serials, CRL metadata, audit log.

SQLAlchemy 2.x and Alembic are imported only here (import contract). `engine.Database` opens
SQLite (default, WAL) or PostgreSQL (`postgresql+psycopg://`) and runs the shipped migrations;
the repositories (`verification`, `revocation`, `links`, `audit`) hand out frozen dataclasses
(`records`), never ORM rows. `crlstream` and `crlimport` read and check national-scale CRLs;
`sqlitecrl` loads them into SQLite without holding the write lock for long.
"""
