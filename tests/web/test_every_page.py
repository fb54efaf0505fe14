"""Every merchant page renders without a server error: each GET route that needs no id, every care rule's
page, and one page of each kind with an id — for a merchant with no members, and for one with 100,000
members (made by one INSERT … SELECT), with care rules and a scheduled campaign to count."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from sqlalchemy import Integer, String, case, cast, func, insert, literal, select, text

from smscrm import broadcast, points
from smscrm.accounts import logins
from smscrm.loyalty import rewards
from smscrm.marketing import care_rules, segments
from smscrm.messaging import inbox
from smscrm.models import CareKind, Member, Role
from smscrm.web import MACHINE_PATHS
from tests.campaign_members import add_member

MANY = 100_000
_ARGUMENT = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?(\w+)>")


def page_paths(app, ids: dict[str, int]) -> list[str]:
    """The path of every page: routes with no argument, and those whose arguments are all in `ids`."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(MACHINE_PATHS) or rule.endpoint == "static":
            continue
        names = _ARGUMENT.findall(rule.rule)
        if all(name in ids for name in names):
            paths.append(_ARGUMENT.sub(lambda match: str(ids[match[1]]), rule.rule))
    return sorted(paths)


def add_many_members(session, merchant, count: int, *, now: datetime) -> None:
    """`count` members in one INSERT … SELECT over a counting CTE: birthdays all over the year, some at risk,
    one in fifty opted out, one in a hundred not joined yet, both languages."""
    numbers = select(literal(1, Integer).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < count))
    n = numbers.c.n
    rows = select(
        literal(merchant.id), literal("+1200") + cast(literal(1_000_000) + n, String), literal("Member ") + cast(n, String),
        case((n % 5 == 0, "zh"), else_="en"),
        case((n % 100 == 0, None), else_=literal(now - timedelta(days=400))), n % 50 == 0, n % 500,
        n % 12 + 1, n % 28 + 1, literal(now - timedelta(days=400)), case((n % 3 == 0, "A"), else_="C"),
        n % 7, literal(now - timedelta(days=90)), literal(20.0),
    )
    session.execute(insert(Member).from_select(
        ["merchant_id", "phone", "name", "language", "joined_at", "is_opted_out", "points_balance", "birthday_month",
         "birthday_day", "created_at", "value_class", "visit_count", "last_visit_at", "typical_visit_gap_days"],
        rows,
    ))


def rows_of_each_kind(session, merchant, now: datetime) -> dict[str, int]:
    """One row of each kind a page is about, with the ids that name them."""
    member = add_member(session, merchant, now=now, phone="+14155550100", name="Ann")
    purchase = points.record_purchase(session, merchant, phone=member.phone, amount_minor=90_000, now=now)
    reward = rewards.create_reward(session, merchant, code="TEA", name="A pot of tea", points_cost=10, now=now)
    redemption = points.redeem_at_counter(session, merchant, member, reward, now=now)
    segment = segments.save_segment(session, merchant, name="Class A", rules={"value_classes": ["A"]}, now=now)
    campaign = broadcast.save_draft(session, merchant, broadcast.CampaignDraft(name="Tea week", text_en="New teas!"),
                                    segment=segment, now=now)
    scheduled = broadcast.save_draft(session, merchant, broadcast.CampaignDraft(name="Later", text_en="Soon!"),
                                     segment=segment, now=now)
    broadcast.schedule_campaign(session, scheduled, at=datetime.now(timezone.utc) + timedelta(days=2), now=now)
    item = inbox.file_message(session, merchant.id, phone=member.phone, member_id=member.id, body="Open late?", now=now)
    staff = logins.create_staff_user(session, merchant, email="staff@tea.example", password="counter staff password",
                                     role=Role.STAFF, now=now)
    session.commit()
    return {
        "member_id": member.id, "purchase_id": purchase.purchase_id, "redemption_id": redemption.id,
        "reward_id": reward.id, "segment_id": segment.id, "campaign_id": campaign.id, "item_id": item.id,
        "user_id": staff.id,
    }


def turn_on_care(session, merchant, now: datetime) -> None:
    for kind, settings in {
        CareKind.BIRTHDAY: {}, CareKind.ANNIVERSARY: {}, CareKind.WIN_BACK: {"days": 30}, CareKind.WELCOME: {},
        CareKind.POINTS_EXPIRING: {},
    }.items():
        care_rules.save_rule(session, merchant, kind, now=now, is_enabled=True, **settings)
    holiday = care_rules.holiday_choices(merchant, now=datetime.now(timezone.utc))[0]
    care_rules.save_rule(session, merchant, CareKind.HOLIDAY, now=now, holiday=holiday.name, is_enabled=True)
    points.update_settings(merchant, points_expiry_months=12)
    session.commit()


def read_whole(response):
    """The response read to its end and closed, so that a streamed download (the CSV exports) ends its request
    before the next one starts."""
    response.get_data()
    response.close()
    return response


def assert_every_page_renders(client, merchant, paths: list[str]) -> dict[str, str]:
    """200 for every page, and for each care rule's page (a signed-in user's sign-in page redirects home; the
    holiday rule's page needs its holiday named); returns the pages."""
    holiday = care_rules.holiday_choices(merchant, now=datetime.now(timezone.utc))[0].name
    pages = [*paths, *(f"/care/{kind.value}" for kind in CareKind), "/care/holiday?" + urlencode({"holiday": holiday})]
    responses = {path: read_whole(client.get(path)) for path in pages}
    expected = {path: 200 for path in pages} | {"/sign-in": 302, "/care/holiday": 404}
    assert {path: response.status_code for path, response in responses.items()} == expected
    return {path: response.text for path, response in responses.items()}


def test_every_page_of_a_merchant_without_members(app, owner, session, merchant, now):
    paths = page_paths(app, {})
    assert {"/", "/calendar", "/members", "/care", "/campaigns", "/settings"} <= set(paths)
    assert_every_page_renders(owner, merchant, paths)


@pytest.fixture
def crowded(session, merchant, now):
    add_many_members(session, merchant, MANY, now=now)
    ids = rows_of_each_kind(session, merchant, now)
    turn_on_care(session, merchant, now)
    session.execute(text("ANALYZE"))  # as after any bulk load (smscrm.db.migrations.statistics_warning)
    session.commit()
    return ids


def test_every_page_of_a_merchant_with_100_000_members(app, owner, session, merchant, now, crowded):
    assert session.scalar(select(func.count()).select_from(Member)) == MANY + 1
    paths = page_paths(app, crowded)
    assert "/members/{member_id}".format(**crowded) in paths and "/counter/purchases/{purchase_id}".format(**crowded) in paths
    pages = assert_every_page_renders(owner, merchant, paths)
    assert "Birthday" in pages["/calendar"] and "Later" in pages["/calendar"]
