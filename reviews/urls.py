from django.urls import path

from . import views

app_name = "reviews"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("requests/<int:pk>/", views.rate, name="rate"),
    path("t/<str:token>/", views.token_link, name="token"),
    path("hr/", views.hr_home, name="hr_home"),
    path("cycles/", views.monitor_list, name="monitor_list"),
    path("cycles/new/", views.cycle_new, name="cycle_new"),
    path("cycles/<int:pk>/", views.monitor, name="monitor"),
    path("cycles/<int:pk>/remind/", views.remind, name="remind"),
    path("cycles/<int:pk>/close/", views.close, name="close"),
    path("commitments/", views.commitments, name="commitments"),
    path(
        "commitments/relationships/<int:edge_pk>/new/",
        views.commitment_edit,
        name="commitment_add",
    ),
    path(
        "commitments/relationships/<int:edge_pk>/<int:pk>/",
        views.commitment_edit,
        name="commitment_edit",
    ),
]
