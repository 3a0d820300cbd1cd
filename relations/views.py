from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from . import selectors


@login_required
def home(request):
    return redirect("relations:my_relationships")


@login_required
def my_relationships(request):
    context = selectors.my_relationships(request.user)
    return render(request, "relations/my_relationships.html", context)
