"""Sign-in passwords are hashed with Argon2id at OWASP's minimum (icr/hashers.py), and older
PBKDF2 hashes still sign in and are rehashed then."""

import time

import pytest
from django.contrib.auth.hashers import identify_hasher, make_password

from tests.conftest import sign_in_request

PRODUCTION_HASHERS = [
    "icr.hashers.OwaspArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS


def test_settings_hash_new_passwords_with_argon2id_first():
    # tests/conftest.py swaps in MD5 per test; the module's own list is what production runs.
    from icr import settings as icr_settings

    assert icr_settings.PASSWORD_HASHERS == PRODUCTION_HASHERS


def test_a_new_password_is_argon2id_with_owasp_parameters(production_hashers):
    encoded = make_password("correct horse battery")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert identify_hasher(encoded).algorithm == "argon2"


def test_an_old_pbkdf2_hash_signs_in_and_is_rehashed(production_hashers, django_user_model):
    from django.contrib.auth import authenticate

    user = django_user_model.objects.create(username="E900")
    user.password = make_password("s3cret-pass-77", hasher="pbkdf2_sha256")
    user.save()
    assert user.password.startswith("pbkdf2_sha256$")
    signed_in = authenticate(sign_in_request(), username="E900", password="s3cret-pass-77")
    assert signed_in is not None and signed_in.pk == user.pk
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    # And the new hash signs in too, well under the old hash's cost.
    started = time.perf_counter()
    assert authenticate(sign_in_request(), username="E900", password="s3cret-pass-77")
    assert time.perf_counter() - started < 0.25
