"""ASGI entry point for daphne: HTTP (Django) and websockets (Channels) in one app."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from common.checks import require_production_secrets  # noqa: E402

require_production_secrets()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from common.process import process_serving  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application,  # Origin checked there (a missing one is allowed)
    }
)
process_serving()
