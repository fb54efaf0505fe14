"""Staff logins: argon2 password hashes, sign-in checks, the sessions a login has open, and the owner's
management of staff (add with a role, deactivate, reset a password).

Every signed-in session carries the login's `session_epoch`; raising it (signing out, a new password,
deactivation) ends every session opened before, on every device.
"""
from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smscrm.accounts.passwords import check_password
from smscrm.errors import N_, Conflict, NotFound, ValidationError
from smscrm.models import Language, Merchant, Role, StaffUser

password_hasher = PasswordHasher()  # argon2 at its production cost; the test suite swaps in the cheapest profile
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def create_staff_user(
    session: Session, merchant: Merchant, *, email: str, password: str, role: Role, now: datetime
) -> StaffUser:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValidationError(N_("%(email)r is not an email address"), email=email)
    if role not in tuple(Role):
        raise ValidationError(N_("the role must be one of %(roles)s, got %(role)r"), roles=", ".join(Role), role=role)
    check_password(password, personal=(email, merchant.name))
    if session.scalar(select(StaffUser.id).where(func.lower(StaffUser.email) == email)):
        raise Conflict(N_("the email %(email)s already has a login"), email=email)
    user = StaffUser(
        merchant_id=merchant.id, email=email, password_hash=password_hasher.hash(password), role=role, created_at=now
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> StaffUser | None:
    """The active user when the password matches, else None (no hint which part was wrong)."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == (email or "").strip().lower()))
    if user is None:
        password_hasher.hash(password or "")  # spend the same time whether or not the email exists
        return None
    try:
        password_hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user.deactivated_at is not None:
        return None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    return user


def is_current_session(user: StaffUser | None, epoch: int) -> bool:
    """Whether a session opened at `epoch` still stands: the login exists, is active, and has not signed out,
    changed its password or been deactivated since."""
    return user is not None and user.deactivated_at is None and user.session_epoch == epoch


def end_sessions(session: Session, user: StaffUser) -> None:
    """Every session of `user` open now is over (signing out does this)."""
    user.session_epoch += 1
    session.flush()


def change_password(session: Session, user: StaffUser, *, current: str, new: str) -> None:
    """The user's own change: the current password first. Ends every session open before."""
    try:
        password_hasher.verify(user.password_hash, current or "")
    except (VerificationError, InvalidHashError):
        raise ValidationError(N_("the current password is not right")) from None
    _set_password(session, user, new)


def reset_password(session: Session, user: StaffUser, *, password: str) -> None:
    """The owner gives a staff login a new password (to hand over in person); its open sessions end."""
    if user.role == Role.OWNER:
        raise ValidationError(N_("an owner changes their own password"))
    _set_password(session, user, password)


def _set_password(session: Session, user: StaffUser, password: str) -> None:
    check_password(password, personal=(user.email, user.merchant.name))
    user.password_hash = password_hasher.hash(password)
    end_sessions(session, user)


def staff_of(session: Session, merchant: Merchant) -> list[StaffUser]:
    """The merchant's logins, active ones first, each group by email."""
    return list(session.scalars(
        select(StaffUser).where(StaffUser.merchant_id == merchant.id)
        .order_by(StaffUser.deactivated_at.is_not(None), StaffUser.email)
    ))


def colleague(session: Session, merchant: Merchant, user_id: int) -> StaffUser:
    """The merchant's login `user_id` (another merchant's is not found)."""
    user = session.get(StaffUser, user_id)
    if user is None or user.merchant_id != merchant.id:
        raise NotFound(N_("there is no such login"))
    return user


def deactivate(session: Session, user: StaffUser, *, by: StaffUser, now: datetime) -> None:
    """The owner stops a login: it cannot sign in and its open sessions end. The owner's own login stays."""
    if user.id == by.id or user.role == Role.OWNER:
        raise ValidationError(N_("an owner's login cannot be deactivated here"))
    if user.deactivated_at is None:
        user.deactivated_at = now
        end_sessions(session, user)


def choose_language(user: StaffUser, language: str) -> None:
    """The language `user` reads the merchant pages in, from now on (English or Chinese)."""
    if language not in tuple(Language):
        raise ValidationError(N_("%(language)r is not a language of the pages"), language=language)
    user.language = language
