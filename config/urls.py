from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/ping", views.ping, name="api_ping"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("teams.urls")),
    path("", include("apikeys.urls")),
    path("", include("billing.urls")),
    path("", include("usage.urls")),
]

handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
