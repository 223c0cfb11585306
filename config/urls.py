from django.contrib import admin
from django.urls import include, path

from apikeys import api as apikeys_api
from config import views
from usage import api as usage_api

urlpatterns = [
    # Django tries patterns in order: the gateway's two routes, called for every inference
    # request, come first, so they are never matched against the pages.
    path("api/v1/gateway/authorize", apikeys_api.gateway_authorize, name="api_gateway_authorize"),
    path("api/v1/gateway/usage", usage_api.gateway_usage, name="api_gateway_usage"),
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/ping", views.ping, name="api_ping"),
    path("", include("apikeys.urls")),
    path("", include("usage.urls")),
    path("", include("pricing.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("teams.urls")),
    path("", include("billing.urls")),
]

handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
