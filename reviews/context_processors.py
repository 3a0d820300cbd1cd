from .selectors import inbox_count


def inbox(request):
    """The number of open requests for the navigation's "Inbox (N)"."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"reviews_inbox_count": inbox_count(user)}
