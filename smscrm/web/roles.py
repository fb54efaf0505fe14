"""Who may do what: staff work the counter, the members and the inbox; the owner does everything (the dashboard,
campaigns, care rules and their calendar, rewards, loyalty settings, members' imports and exports, points
adjustments, settings with staff logins and API keys). Owner-only pages are `protected_blueprint(is_owner_only=True)`;
within a page staff may use, a view is `owner_only`."""
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
