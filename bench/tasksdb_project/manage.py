"""manage.py for the benchmark's django-tasks-db project (run `db_worker`, `migrate`)."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # Import the project as `tasksdb_project`, whatever the working directory.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tasksdb_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
