"""Who may change what: staff work the counter; the owner also decides the rewards and the earn rules."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from smscrm.models import Role

OWNER_ONLY = _l("Only the owner can change this. Ask them to sign in and make the change.")


def is_owner() -> bool:
    return current_user.user.role == Role.OWNER


def owner_only(view):
    """The view answers 403 to anyone but the owner."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not is_owner():
            abort(403, OWNER_ONLY)
        return view(*args, **kwargs)

    return guarded
