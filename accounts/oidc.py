"""OpenID Connect sign-in (Authelia, Authentik, Keycloak …) through mozilla-django-oidc.

mozilla-django-oidc runs the authorization-code flow: state and nonce bound to the session,
PKCE, the token exchange, the ID token's signature against the provider's JWKS. What this
module adds around it:

- the endpoints come from the provider's discovery document (``OIDC_ISSUER`` +
  ``/.well-known/openid-configuration``), fetched when first needed and kept for an hour; its
  ``issuer`` must be the configured one;
- the ID token's ``iss``, ``aud`` and ``exp`` are checked (the library checks only the
  signature and nonce), and the userinfo ``sub`` must be the ID token's;
- users are matched by email only when the provider says ``email_verified``; accounts are
  created only with ``OIDC_CREATE_USERS`` (without a usable password);
- any failure (bad state, unreachable provider, refused token) sends the browser back to the
  login page with one line saying why, never a 500; the client secret is never logged.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import SuspiciousOperation
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

logger = logging.getLogger(__name__)

DISCOVERY_TTL_SECONDS = 3600
HTTP_TIMEOUT_SECONDS = 10
# Clock skew tolerated between the provider and this server when checking exp/iat.
LEEWAY_SECONDS = 30


class OidcUnavailable(Exception):
    """The provider's discovery document could not be fetched or is unusable."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


_lock = threading.Lock()
_cached: tuple[float, str, ProviderMetadata] | None = None


def _url(document: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = document.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise OidcUnavailable(f"the provider's discovery document has no valid {key}")
    return value


def _same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def fetch_metadata(issuer: str) -> ProviderMetadata:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT_SECONDS)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcUnavailable(f"the provider's discovery document is unavailable ({exc})") from None
    if not isinstance(document, dict):
        raise OidcUnavailable("the provider's discovery document is not a JSON object")
    named = document.get("issuer")
    if not isinstance(named, str) or not _same_issuer(named, issuer):
        raise OidcUnavailable(f"the provider calls itself {named!r}, not OIDC_ISSUER={issuer!r}")
    return ProviderMetadata(
        issuer=named,
        authorization_endpoint=_url(document, "authorization_endpoint") or "",
        token_endpoint=_url(document, "token_endpoint") or "",
        userinfo_endpoint=_url(document, "userinfo_endpoint") or "",
        jwks_uri=_url(document, "jwks_uri") or "",
        end_session_endpoint=_url(document, "end_session_endpoint", required=False),
    )


def provider_metadata() -> ProviderMetadata:
    """The configured provider's endpoints, from its discovery document (cached)."""
    global _cached
    issuer = settings.OIDC_ISSUER
    with _lock:
        now = time.monotonic()
        if (
            _cached is not None
            and _cached[1] == issuer
            and now - _cached[0] < DISCOVERY_TTL_SECONDS
        ):
            return _cached[2]
        metadata = fetch_metadata(issuer)
        _cached = (now, issuer, metadata)
        return metadata


def _is_true(value: Any) -> bool:
    # Some providers send the claim as the string "true".
    return value is True or (isinstance(value, str) and value.lower() == "true")


class OidcBackend(OIDCAuthenticationBackend):
    """The library's backend with discovered endpoints and the checks it leaves out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django builds backends on every authenticate() and session lookup: read settings
        # only; the provider is asked nothing until a sign-in actually needs it.
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.UserModel = get_user_model()

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:  # noqa: N802 (the library's attribute name)
        return provider_metadata().token_endpoint

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:  # noqa: N802
        return provider_metadata().userinfo_endpoint

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:  # noqa: N802
        return provider_metadata().jwks_uri

    def _verify_jws(self, payload: Any, key: Any) -> dict[str, Any]:
        try:
            alg = jwt.get_unverified_header(payload).get("alg")
            if alg != self.OIDC_RP_SIGN_ALGO:
                raise SuspiciousOperation(
                    f"the ID token is signed with {alg!r}, expected {self.OIDC_RP_SIGN_ALGO}"
                )
            claims: dict[str, Any] = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=provider_metadata().issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise SuspiciousOperation("the ID token has expired") from None
        except jwt.InvalidIssuerError:
            raise SuspiciousOperation("the ID token was issued by another issuer") from None
        except jwt.InvalidAudienceError:
            raise SuspiciousOperation("the ID token is meant for another client") from None
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"the ID token is invalid ({exc})") from None
        return claims

    def get_payload_data(self, token: Any, key: Any) -> Any:
        # Never accept an unsigned token, whatever OIDC_ALLOW_UNSECURED_JWT says.
        return self._verify_jws(token, key)

    def verify_token(self, token: Any, **kwargs: Any) -> Any:
        payload = super().verify_token(token, **kwargs)
        # The library lets a missing nonce match a missing nonce; an ID token must carry ours.
        if "nonce" in kwargs and (not kwargs["nonce"] or payload.get("nonce") != kwargs["nonce"]):
            raise SuspiciousOperation("the ID token's nonce does not match this sign-in")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        claims = super().get_userinfo(access_token, id_token, payload)
        if not isinstance(claims, dict) or claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("the userinfo answer is about another subject")
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("email")) and _is_true(claims.get("email_verified"))

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        if not self.verify_claims(claims):
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=claims["email"])

    def create_user(self, claims: dict[str, Any]) -> AbstractBaseUser:
        user = self.UserModel.objects.create_user(
            _free_username(claims, self.UserModel), email=claims["email"]
        )
        logger.info("OIDC: created user %s for a verified email", user.get_username())
        return user

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        # The library's flow, with a reason for each refusal (shown on the login page).
        claims = self.get_userinfo(access_token, id_token, payload)
        if not self.verify_claims(claims):
            return self._refuse("your provider has not verified your email address")
        users = list(self.filter_users_by_claims(claims)[:2])
        if len(users) == 1:
            return users[0]
        if users:
            return self._refuse("several accounts here share your email address")
        if settings.OIDC_CREATE_USER:
            return self.create_user(claims)
        return self._refuse("no account here matches your email address; ask an administrator")

    def _refuse(self, reason: str) -> None:
        self.request.oidc_refusal = reason


def _free_username(claims: dict[str, Any], user_model: Any) -> str:
    """The provider's preferred username (or the email's local part), made unique here."""
    wanted = str(claims.get("preferred_username") or claims["email"].split("@")[0])
    base = re.sub(r"[^\w.@+-]", "", wanted)[:140] or "user"
    candidate, n = base, 1
    while user_model.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _refuse(request: HttpRequest, reason: str) -> HttpResponse:
    name = settings.OIDC_PROVIDER_NAME
    messages.error(request, f"Sign-in with {name} failed: {reason}.")
    return HttpResponseRedirect(resolve_url(settings.LOGIN_URL))


class OidcAuthenticateView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider (state, nonce and PKCE verifier kept in the session)."""

    def __init__(self, **kwargs: Any) -> None:
        View.__init__(self, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    @property
    def OIDC_OP_AUTH_ENDPOINT(self) -> str:  # noqa: N802 (the library's attribute name)
        return provider_metadata().authorization_endpoint

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            return super().get(request)
        except OidcUnavailable as exc:
            logger.warning("OIDC sign-in not started: %s", exc)
            return _refuse(request, "the provider cannot be reached")


class OidcCallbackView(OIDCAuthenticationCallbackView):
    """The provider's redirect back; every refusal becomes a message on the login page."""

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            reason = str(exc)
            if "state" in reason:
                reason = "this sign-in was not started here or was already used"
        except OidcUnavailable as exc:
            logger.warning("OIDC sign-in failed: %s", exc)
            return _refuse(request, "the provider cannot be reached")
        except requests.RequestException as exc:
            # The library's token error carries the provider's answer; log its status only.
            status = getattr(getattr(exc, "response", None), "status_code", None)
            logger.warning("OIDC sign-in failed: provider request error (HTTP %s)", status)
            return _refuse(request, "the provider refused the sign-in")
        except DatabaseError:
            raise  # a 503 from DatabaseUnavailableMiddleware, like every other page
        except Exception as exc:  # a malformed answer (no id_token, a JWKS without kid …)
            logger.warning("OIDC sign-in failed: %s", type(exc).__name__)
            return _refuse(request, "the provider's answer could not be used")
        logger.warning("OIDC sign-in refused: %s", reason)
        return _refuse(request, reason)

    def login_failure(self) -> HttpResponse:
        reason = getattr(self.request, "oidc_refusal", None)
        if self.request.GET.get("error"):
            reason = f"the provider answered {self.request.GET['error'][:60]!r}"
        return _refuse(self.request, reason or "the provider did not sign you in")


def end_session_url(request: HttpRequest, id_token: str) -> str | None:
    """Where to send the browser so the provider ends its session too (RP-initiated logout)."""
    try:
        endpoint = provider_metadata().end_session_endpoint
    except OidcUnavailable:
        return None
    if not endpoint:
        return None
    query = {
        "id_token_hint": id_token,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(resolve_url(settings.LOGIN_URL)),
    }
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(query)}"
