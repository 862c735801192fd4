"""WSGI entry point (e.g. gunicorn workers for the REST API beside daphne)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.checks import require_production_secrets  # noqa: E402

require_production_secrets()
