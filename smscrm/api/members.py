"""Members through the API: look one up by phone, read one by id, list and search the merchant's members.

A phone number travels only in a POST body (`POST /members/lookup`), never in a URL: URLs reach access logs.
The member routes take the member's id, which the lookup, the list and a purchase answer."""
from __future__ import annotations

from flask import jsonify, request

from smscrm import points
from smscrm.api import blueprint, inputs
from smscrm.api.auth import current_merchant
from smscrm.errors import NotFound, ValidationError
from smscrm.loyalty import directory, members, points_history
from smscrm.models import Member, PointsEntry
from smscrm.web.request_db import db_session

MAX_SEARCH_CHARS = 80
MAX_SEARCH_DIGITS = 6  # the last digits of a phone; a whole number is looked up in a POST body, not a URL
LEDGER_PAGE = 50
MAX_LEDGER_PAGE = 100  # below points.MAX_LEDGER_PAGE: one more entry is read to tell whether a next page exists
MAX_ENTRY_ID = 2**31 - 1  # entry ids are 32-bit integers on PostgreSQL
MAX_PER_PAGE = 100


def iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def member_json(member: Member) -> dict:
    return {
        "id": member.id,
        "phone": member.phone,
        "name": member.name,
        "language": member.language,
        "stage": member.stage,
        "status": members.status_of(member),
        "joined_at": iso(member.joined_at),
        "is_opted_out": member.is_opted_out,
        "points_balance": member.points_balance,
        "value_class": member.value_class,
        "visit_count": member.visit_count,
        "total_spend": member.total_spend_minor,
        "last_visit_at": iso(member.last_visit_at),
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


def member_by_id(member_id: int) -> Member:
    """The merchant's member with this id; 404 when there is none (other merchants' do not count)."""
    member = points_history.find_member(db_session(), current_merchant().id, member_id)
    if member is None:
        raise NotFound(f"no member has the id {member_id}", code="member_not_found")
    return member


@blueprint.post("/members/lookup")
def look_up_member():
    inputs.only_query_parameters()
    return jsonify(member_json(member_by_phone(inputs.json_body(required=("phone",))["phone"])))


@blueprint.get("/members/<id:member_id>")
def get_member(member_id: int):
    inputs.only_query_parameters()
    return jsonify(member_json(member_by_id(member_id)))


@blueprint.get("/members")
def list_members():
    inputs.only_query_parameters("q", "page", "per_page")
    search = inputs.text(request.args.get("q", ""), field="q", max_chars=MAX_SEARCH_CHARS, min_chars=0)
    if sum(character.isdigit() for character in search) > MAX_SEARCH_DIGITS:
        raise ValidationError(
            f"q takes at most the last {MAX_SEARCH_DIGITS} digits of a phone; look a member up by the whole number "
            "with POST /api/v1/members/lookup and {\"phone\": ...} (a URL is written to access logs)",
            code="invalid_q",
        )
    number = inputs.query_int("page", default=1, maximum=inputs.MAX_PAGE)
    merchant = current_merchant()
    per_page = inputs.query_int("per_page", default=directory.PER_PAGE, maximum=MAX_PER_PAGE)
    page = directory.list_members(db_session(), merchant.id, search=search, page=number, per_page=per_page,
                                  country=merchant.country)
    is_past_end = number > page.pages
    return jsonify(
        members=[] if is_past_end else [member_json(member) for member in page.items],
        page=number,
        per_page=page.per_page,
        total=page.total,
        pages=page.pages,
        next_page=number + 1 if number < page.pages else None,
    )


def entry_json(entry: PointsEntry) -> dict:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "points": entry.points,
        "balance_after": entry.balance_after,
        "note": entry.note,
        "purchase_id": entry.purchase_id,
        "redemption_id": entry.redemption_id,
        "created_at": iso(entry.created_at),
    }


@blueprint.get("/members/<id:member_id>/ledger")
def member_ledger(member_id: int):
    """The member's points entries, newest first; `next_before` fetches the next (older) page."""
    inputs.only_query_parameters("limit", "before")
    limit = inputs.query_int("limit", default=LEDGER_PAGE, maximum=MAX_LEDGER_PAGE)
    before = inputs.query_int("before", default=None, maximum=MAX_ENTRY_ID)
    member = member_by_id(member_id)
    entries = points.ledger(db_session(), member, limit=limit + 1, before_id=before)
    page, has_more = entries[:limit], len(entries) > limit
    return jsonify(
        phone=member.phone,
        points_balance=member.points_balance,
        entries=[entry_json(entry) for entry in page],
        next_before=page[-1].id if has_more else None,
    )
