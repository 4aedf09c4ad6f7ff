"""PostgreSQL: analyze background_jobs after 1% (+1,000 rows) of changes instead of 10%.

The claim query's plan depends on fresh statistics: analyzed while the table held mostly
finished jobs, a burst of queued jobs would make the planner sort the whole backlog on
every claim until autovacuum caught up.
"""

from django.db import migrations

TUNE = (
    "ALTER TABLE background_jobs SET (autovacuum_analyze_scale_factor = 0.01, "
    "autovacuum_analyze_threshold = 1000, autovacuum_vacuum_scale_factor = 0.05)"
)
RESET = (
    "ALTER TABLE background_jobs RESET (autovacuum_analyze_scale_factor, "
    "autovacuum_analyze_threshold, autovacuum_vacuum_scale_factor)"
)


def tune(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TUNE)


def reset(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RESET)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_default_maintenance_schedules")]
    operations = [migrations.RunPython(tune, reset)]
