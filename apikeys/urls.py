from django.urls import path

from apikeys import views

app_name = "apikeys"

urlpatterns = [
    path("settings/api-keys/", views.keys_list, name="list"),
    path("settings/api-keys/new/", views.keys_create, name="create"),
    path("settings/api-keys/<str:public_id>/revoke/", views.keys_revoke, name="revoke"),
    path("settings/api-keys/<str:public_id>/spend-cap/", views.keys_spend_cap, name="spend_cap"),
]
