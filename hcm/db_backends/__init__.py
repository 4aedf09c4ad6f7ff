"""Django's SQLite and PostgreSQL backends with one addition: writes held back in a
transaction are written before it commits (hcm/db_backends/pending.py)."""
