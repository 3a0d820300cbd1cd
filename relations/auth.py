"""Sign in with the employee id (the username) or the e-mail address."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q


class EmployeeIdOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        User = get_user_model()
        login = username.strip()
        candidates = list(
            User.objects.filter(Q(username__iexact=login) | Q(email__iexact=login))[:2]
        )
        exact = [u for u in candidates if u.username.lower() == login.lower()]
        if exact:
            user = exact[0]
        elif len(candidates) == 1:
            user = candidates[0]
        else:
            # Unknown, or an e-mail shared by two logins: refuse rather than guess. Run the
            # hasher anyway so the response time does not tell which.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
