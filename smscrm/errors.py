"""Errors the domain raises; web, API, webhook and CLI handlers translate them."""
from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for the pages' catalogues (`make messages`); the pages show it in their language."""
    return message


class SmscrmError(Exception):
    """Base class: `code` is a stable machine-readable name, the message is for people.

    A message marked with `N_` names its values (`N_("at most %(count)s characters")`, `count=40`): `message` is
    the English sentence, `template` and `values` let a page say it in its own language."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, **values):
        self.template, self.values = message, values
        self.message = message % values if values else message
        super().__init__(self.message)
        if code:
            self.code = code


class ConfigError(SmscrmError):
    code = "invalid_configuration"


class ValidationError(SmscrmError):
    code = "invalid_input"
    http_status = 400


class InvalidPhone(ValidationError):
    code = "invalid_phone"


class BadMemberFile(ValidationError):
    """A member file we cannot read (`smscrm.loyalty.member_files`): `reason` names the problem, `details` what a
    message about it shows (the columns found, a limit)."""

    code = "bad_member_file"

    def __init__(self, reason: str, message: str, **details):
        super().__init__(message)
        self.reason, self.details = reason, details


class PasswordRefused(ValidationError):
    """A new password too short, too long or too easy to guess (`smscrm.accounts.passwords`)."""

    code = "password_refused"


class NotFound(SmscrmError):
    code = "not_found"
    http_status = 404


class Conflict(SmscrmError):
    code = "conflict"
    http_status = 409


class InsufficientPoints(Conflict):
    code = "insufficient_points"


class RewardUnavailable(Conflict):
    """The reward is switched off or out of stock."""

    code = "reward_unavailable"


class RedemptionCodeInvalid(NotFound):
    code = "redemption_code_invalid"


class RedemptionCodeUsed(Conflict):
    code = "redemption_code_used"


class RedemptionCodeExpired(SmscrmError):
    """The code was not used in time; its points go back to the member (see rewards.release_expired_redemptions)."""

    code = "redemption_code_expired"
    http_status = 410
