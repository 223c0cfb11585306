from django.urls import path

from pricing import api, views

urlpatterns = [
    path("api/v1/prices", api.prices, name="api_prices"),
    path("api/v1/prices/quote", api.prices_quote, name="api_prices_quote"),
    path("pricing", views.pricing, name="pricing"),
    path("settings/billing/custom-models/", views.custom_models, name="custom_models"),
    path("settings/billing/custom-models/<int:model_id>/remove/", views.custom_model_delete,
         name="custom_model_delete"),
]
