"""Plumbing: engines and sessions, column types, partial indexes, SQL time arithmetic, migrations."""
