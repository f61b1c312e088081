"""The provider's claims: a user's email is verified unless their last name says otherwise,
and ``tweaks.json`` in the data directory can bend the next ID tokens (issuer, expiry) the
way a misconfigured or hostile provider would."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings


def userinfo(claims: dict[str, Any], user: Any) -> dict[str, Any]:
    claims["email"] = user.email
    claims["email_verified"] = user.last_name != "unverified"
    claims["preferred_username"] = user.username
    return claims


def tweak_id_token(id_token: dict[str, Any], **_: Any) -> dict[str, Any]:
    path = settings.DATA_DIR / "tweaks.json"
    tweaks = json.loads(path.read_text()) if path.exists() else {}
    if "iss" in tweaks:
        id_token["iss"] = tweaks["iss"]
    if "exp_offset" in tweaks:
        id_token["exp"] = id_token["iat"] + int(tweaks["exp_offset"])
    return id_token
