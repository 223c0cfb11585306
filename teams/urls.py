from django.urls import path

from teams import views

urlpatterns = [
    path("workspaces/switch/", views.workspace_switch, name="workspace_switch"),
    path("workspaces/new/", views.workspace_new, name="workspace_create"),
]
