import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcm.settings")
application = get_wsgi_application()

from hcm.startup import require_secret_key  # noqa: E402  (needs the settings loaded above)

require_secret_key()  # gunicorn and runserver refuse to serve without a key
