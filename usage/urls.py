from django.urls import path

from usage import api as metering_api
from usage import key_pages
from usage import openapi
from usage import pages as usage_pages

urlpatterns = [
    path("api/v1/usage", metering_api.usage_list, name="api_usage"),
    path("api/v1/usage/events/<path:id>", metering_api.usage_event, name="api_usage_event"),
    path("api/v1/balance", metering_api.balance, name="api_balance"),
    path("usage/", usage_pages.usage_page, name="usage"),
    path("usage/keys/<str:public_id>/", key_pages.key_page, name="usage_key"),
    path("usage/receipt/", usage_pages.receipt_page, name="usage_receipt"),
    path("usage/export.csv", usage_pages.usage_export, name="usage_export"),
    path("api/v1/openapi.json", openapi.openapi_json, name="openapi_json"),
    path("api/v1/docs", openapi.api_docs, name="api_docs"),
]
