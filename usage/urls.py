from django.urls import path

from usage import api as metering_api
from usage import api_prices, openapi, views_pricing
from usage import pages as usage_pages

urlpatterns = [
    # metering
    path("api/v1/usage", metering_api.usage_list, name="api_usage"),
    path("api/v1/balance", metering_api.balance, name="api_balance"),
    path("usage/", usage_pages.usage_page, name="usage"),
    path("usage/export.csv", usage_pages.usage_export, name="usage_export"),
    # price catalog
    path("api/v1/prices", api_prices.prices, name="api_prices"),
    path("api/v1/prices/quote", api_prices.prices_quote, name="api_prices_quote"),
    path("api/v1/openapi.json", openapi.openapi_json, name="openapi_json"),
    path("api/v1/docs", openapi.api_docs, name="api_docs"),
    path("pricing", views_pricing.pricing, name="pricing"),
    path("settings/billing/custom-models/", views_pricing.custom_models, name="custom_models"),
    path("settings/billing/custom-models/<int:model_id>/remove/", views_pricing.custom_model_delete,
         name="custom_model_delete"),
]
