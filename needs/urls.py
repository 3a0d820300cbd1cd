from django.urls import path

from . import views

app_name = "needs"
urlpatterns = [
    path("", views.mine, name="mine"),
    path("raise/", views.raise_need, name="raise"),
    path("propose/", views.propose, name="propose"),
    path("<uuid:pk>/confirm/", views.confirm, name="confirm"),
    path("<uuid:pk>/answer/", views.answer, name="answer"),
    path("departments/<int:pk>/", views.department, name="department"),
]
