"""The benchmarks' server: the app's own settings, plus the floor route of bench/urls.py."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
