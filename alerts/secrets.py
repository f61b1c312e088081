"""Apprise URLs hold tokens and passwords: parse, validate and mask them without echoing them."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

MAX_URL_LENGTH = 500


def split_urls(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep and scheme.isascii() and scheme.isalnum() else ""


def mask_url(url: str) -> str:
    """What may be shown of a URL: the scheme and, for plain hosts, the host and port.

    Tokens often sit in the host part (``tgram://TOKEN/chat``), so a host is kept only when it
    looks like a host name or address (has a dot or is ``localhost``) and never user info,
    path or query.
    """
    scheme = _scheme(url) or "?"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return f"{scheme}://…"
    if host and ("." in host or host == "localhost") and len(host) <= 100:
        return f"{scheme}://{host}{f':{port}' if port else ''}/…"
    return f"{scheme}://…"


def validate_apprise_urls(text: str, limit: int) -> list[str]:
    """The URLs of ``text`` (one per line), or a ValidationError that never repeats a URL."""
    import apprise

    urls = split_urls(text)
    if len(urls) > limit:
        raise ValidationError(f"At most {limit} Apprise URLs.")
    for n, url in enumerate(urls, start=1):
        if len(url) > MAX_URL_LENGTH:
            raise ValidationError(f"Apprise URL {n} is longer than {MAX_URL_LENGTH} characters.")
        if not _scheme(url):
            raise ValidationError(f"Apprise URL {n} is not a URL (scheme://…).")
        if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
            raise ValidationError(
                f"Apprise URL {n} ({_scheme(url)}://…) is not a service Apprise knows."
            )
    return urls
