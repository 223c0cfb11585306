from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/ping", views.ping, name="api_ping"),
    # Django tries patterns in order: the gateway's hot routes (each first in its app's
    # list) come before the pages, so a call to them is not matched against every page.
    path("", include("apikeys.urls")),
    path("", include("usage.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("teams.urls")),
    path("", include("billing.urls")),
]

handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
