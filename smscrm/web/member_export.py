"""Member export, owner only: the members and the consent log as CSV files, streamed as they are read (a
server-side cursor on PostgreSQL), so a large membership never sits in memory."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Response, current_app, render_template, stream_with_context
from flask_login import current_user
from sqlalchemy.orm import Session

from smscrm.db.engine import utcnow
from smscrm.loyalty import exports
from smscrm.web.auth import protected_blueprint

blueprint = protected_blueprint("member_export", __name__, url_prefix="/members/export", is_owner_only=True)


@blueprint.get("")
def index():
    return render_template("members/export.html")


@blueprint.get("/members.csv")
def members_csv():
    return _download("members", exports.member_lines)


@blueprint.get("/consent-log.csv")
def consent_csv():
    return _download("consent-log", exports.consent_lines)


def _download(name: str, lines: Callable[[Session, int], Iterator[str]]) -> Response:
    """The file streamed from a session of its own, closed when the last line is sent (the request's session is
    closed at teardown, when the view returns: before the download is read)."""
    sessions, merchant_id = current_app.extensions["smscrm.sessionmaker"], current_user.merchant_id

    def stream() -> Iterator[str]:
        with sessions() as session:
            yield from lines(session, merchant_id)

    return Response(
        stream_with_context(stream()), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-{utcnow():%Y-%m-%d}.csv"'},
    )
