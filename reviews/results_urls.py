from django.urls import path

from . import results_views as views

app_name = "results"
urlpatterns = [
    path("", views.home, name="home"),
    path("departments/<int:pk>/", views.department, name="department"),
    path(
        "departments/<int:pk>/cycles/<int:cycle_pk>/export.xlsx",
        views.department_export,
        name="department_export",
    ),
    path("departments/<int:pk>/remind/", views.remind, name="remind"),
    path("departments/<int:pk>/actions/", views.action_create, name="action_create"),
    path("actions/<int:pk>/", views.action_update, name="action_update"),
    path("comments/<int:pk>/reply/", views.comment_reply, name="comment_reply"),
    path("me/", views.me, name="me"),
    path("employees/<int:pk>/", views.employee, name="employee"),
    path("cycles/<int:pk>/settings/", views.cycle_settings, name="cycle_settings"),
    path("cycles/<int:pk>/export.<str:fmt>", views.export, name="export"),
]
