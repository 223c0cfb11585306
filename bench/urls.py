"""The app's routes, plus /bench/floor, which exists only under bench/settings.py."""

from django.urls import path

from bench.views import floor
from config.urls import handler404, handler500, urlpatterns as app_urlpatterns  # noqa: F401

urlpatterns = [*app_urlpatterns, path("bench/floor", floor)]
