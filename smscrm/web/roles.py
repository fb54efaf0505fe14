"""Who may do what: staff work the counter, the members and the inbox, and may read the rewards, care rules and
loyalty settings; the owner also changes those, runs campaigns and keeps the settings (staff logins, API keys)."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from smscrm.models import Role

OWNER_ONLY = _l("Only the owner can change this. Ask them to sign in and make the change.")


def is_owner() -> bool:
    return current_user.user.role == Role.OWNER


def require_owner() -> None:
    """Answer 403 to anyone but the owner (a blueprint's `before_request`)."""
    if not is_owner():
        abort(403, OWNER_ONLY)


def owner_only(view):
    """The view answers 403 to anyone but the owner."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not is_owner():
            abort(403, OWNER_ONLY)
        return view(*args, **kwargs)

    return guarded
