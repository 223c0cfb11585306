from django.urls import path

from teams import views

urlpatterns = [
    path("workspaces/switch/", views.workspace_switch, name="workspace_switch"),
    path("workspaces/new/", views.workspace_new, name="workspace_create"),
    path("settings/team/", views.team, name="team"),
    path("settings/team/invite/", views.invitation_new, name="team_invite"),
    path("settings/team/rename/", views.workspace_rename, name="team_rename"),
    path("settings/team/leave/", views.team_leave, name="team_leave"),
    path("settings/team/invitations/<int:pk>/resend/", views.invitation_resend, name="team_invitation_resend"),
    path("settings/team/invitations/<int:pk>/cancel/", views.invitation_cancel, name="team_invitation_cancel"),
    path("settings/team/members/<int:pk>/role/", views.member_role, name="team_member_role"),
    path("settings/team/members/<int:pk>/transfer/", views.member_transfer, name="team_member_transfer"),
    path("settings/team/members/<int:pk>/remove/", views.member_remove, name="team_member_remove"),
    path("invites/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
