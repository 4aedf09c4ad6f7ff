"""PostgreSQL: every INSERT into background_jobs wakes LISTENing workers.

A statement trigger sends the NOTIFY inside the inserting transaction (delivered when it
commits), so an enqueue is one INSERT round trip instead of INSERT + `SELECT pg_notify`.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION background_jobs_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('hcm_jobs', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS background_jobs_notify ON background_jobs;
CREATE TRIGGER background_jobs_notify AFTER INSERT ON background_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION background_jobs_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS background_jobs_notify ON background_jobs;
DROP FUNCTION IF EXISTS background_jobs_notify();
"""


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0004_background_jobs_autovacuum")]
    operations = [migrations.RunPython(create, drop)]
