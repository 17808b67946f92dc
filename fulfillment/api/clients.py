"""API clients: users that authenticate with a DRF token and own the orders they place."""

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import transaction
from rest_framework.authtoken.models import Token


class NotAnApiClient(Exception):
    """The name belongs to a person's login (it has a password), not to an API client."""


def api_client_create(*, name: str, rotate: bool = False) -> tuple[str, bool]:
    """Create the client `name` (or find it) and return (its token, created).

    The user has no usable password: it signs in with its token only. `rotate` replaces the
    token, so the old one stops working at once.
    """
    UnicodeUsernameValidator()(name)
    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=name)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        elif user.has_usable_password():
            raise NotAnApiClient(f"{name!r} is a person's login; choose another name for the API client.")
        if rotate:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
    return token.key, created
