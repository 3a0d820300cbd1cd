from django.urls import path

from . import views

app_name = "relations"
urlpatterns = [
    path("", views.home, name="home"),
    path("me/relationships/", views.my_relationships, name="my_relationships"),
]
