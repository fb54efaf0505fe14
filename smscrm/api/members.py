"""Members through the API: look one up by phone, list and search the merchant's members."""
from __future__ import annotations

from flask import jsonify, request

from smscrm import directory, members
from smscrm.api import blueprint, inputs
from smscrm.api.auth import current_merchant
from smscrm.errors import NotFound
from smscrm.models import Member
from smscrm.request_db import db_session

MAX_SEARCH_CHARS = 80


def iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def member_json(member: Member) -> dict:
    return {
        "id": member.id,
        "phone": member.phone,
        "name": member.name,
        "language": member.language,
        "status": "joined" if member.is_joined else "pending",
        "joined_at": iso(member.joined_at),
        "is_opted_out": member.is_opted_out,
        "points_balance": member.points_balance,
        "created_at": iso(member.created_at),
    }


def member_by_phone(raw_phone: str) -> Member:
    """The merchant's member with this phone; 404 when there is none (other merchants' do not count)."""
    merchant = current_merchant()
    phone = inputs.phone(raw_phone, merchant)
    member = members.find(db_session(), merchant.id, phone)
    if member is None:
        raise NotFound(f"no member has the phone {phone}", code="member_not_found")
    return member


@blueprint.get("/members/<phone>")
def get_member(phone: str):
    inputs.only_query_parameters()
    return jsonify(member_json(member_by_phone(phone)))


@blueprint.get("/members")
def list_members():
    inputs.only_query_parameters("q", "page")
    search = inputs.text(request.args.get("q", ""), field="q", max_chars=MAX_SEARCH_CHARS, min_chars=0)
    number = inputs.query_int("page", default=1, maximum=inputs.MAX_PAGE)
    page = directory.list_members(db_session(), current_merchant().id, search=search, page=number)
    is_past_end = number > page.pages
    return jsonify(
        members=[] if is_past_end else [member_json(member) for member in page.items],
        page=number,
        per_page=page.per_page,
        total=page.total,
        pages=page.pages,
        next_page=number + 1 if number < page.pages else None,
    )
