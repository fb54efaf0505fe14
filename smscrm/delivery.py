"""Delivery: placeholder replaced by the delivery work."""


def record_status(session, *, provider_sid, status, error_code, now):
    raise NotImplementedError
