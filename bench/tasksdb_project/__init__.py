"""A minimal Django project that runs django-tasks-db, the reference database backend of
Django's Tasks framework, for bench/run.py to compare against. Nothing else uses it."""
