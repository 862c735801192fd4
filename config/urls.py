"""URL wiring: each app owns its routes; this file only mounts them."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common.health import health
from common.http.errors import api_not_found

handler404 = "common.http.errors.handler404"
handler500 = "common.http.errors.handler500"

urlpatterns = [
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("payments.api.urls")),
    path("api/v1/", include("webhooks.api.urls")),
    path("api/v1/", include("webhooks.destinations.api.urls")),
    path("api/v1/", include("reconciliation.api.urls")),
    path("api/v1/", include("realtime.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    re_path(r"^api/", api_not_found),
    path("", include("realtime.urls")),
]
