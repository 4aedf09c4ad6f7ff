"""The rate-limit counters' own cache table (settings.CACHES["ratelimit"]): no job flushes it."""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor) -> None:
    # Creates the missing table of every DatabaseCache in settings.CACHES (none with REDIS_URL).
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("hcm", "0003_operate_platform_permission")]
    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
