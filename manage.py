#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    # The worker loads no web-only apps nor the web URLconf (hcm/settings_worker.py).
    worker = sys.argv[1:2] == ["runworker"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcm.settings_worker" if worker else "hcm.settings")
    if worker:
        from hcm.worker_imports import prepare_worker_imports

        prepare_worker_imports()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
