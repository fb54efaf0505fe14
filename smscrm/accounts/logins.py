"""Staff logins: argon2 password hashes, sign-in checks."""
from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smscrm.errors import Conflict, ValidationError
from smscrm.models import Language, Merchant, Role, StaffUser

password_hasher = PasswordHasher()  # argon2 at its production cost; the test suite swaps in the cheapest profile
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


def create_staff_user(
    session: Session, merchant: Merchant, *, email: str, password: str, role: Role, now: datetime
) -> StaffUser:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValidationError(f"{email!r} is not an email address")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(StaffUser.id).where(func.lower(StaffUser.email) == email)):
        raise Conflict(f"{email} already has a login")
    user = StaffUser(
        merchant_id=merchant.id, email=email, password_hash=password_hasher.hash(password), role=role, created_at=now
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> StaffUser | None:
    """The user when the password matches, else None (no hint which part was wrong)."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == (email or "").strip().lower()))
    if user is None:
        password_hasher.hash(password or "")  # spend the same time whether or not the email exists
        return None
    try:
        password_hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    return user


def choose_language(user: StaffUser, language: str) -> None:
    """The language `user` reads the merchant pages in, from now on (English or Chinese)."""
    if language not in tuple(Language):
        raise ValidationError(f"{language!r} is not a language of the pages")
    user.language = language
