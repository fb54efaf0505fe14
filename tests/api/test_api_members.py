"""Looking up (by phone, in a POST body), reading (by id), listing and searching members through the API; other
merchants' members stay invisible."""
from __future__ import annotations

from datetime import timedelta

import pytest

from smscrm.loyalty import members
from smscrm.loyalty.directory import PER_PAGE
from smscrm.models import Member, Stage


def look_up(api, phone):
    return api.post("/api/v1/members/lookup", json={"phone": phone})


def test_look_up_a_member_by_phone_in_e164(api, ada, now):
    response = look_up(api, ada.phone)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": ada.id,
        "phone": "+14155550100",
        "name": "Ada Lovelace",
        "language": "en",
        "stage": "joined",
        "status": "member",
        "joined_at": now.isoformat(),
        "is_opted_out": False,
        "points_balance": 0,
        "value_class": None,
        "visit_count": 0,
        "total_spend": 0,
        "last_visit_at": None,
        "created_at": now.isoformat(),
    }


def test_a_member_is_read_by_id(api, ada):
    assert api.get(f"/api/v1/members/{ada.id}").get_json() == look_up(api, ada.phone).get_json()


@pytest.mark.parametrize("written", ["+14155550100", "(415) 555-0100", "4155550100", "+1 415 555 0100"])
def test_a_phone_is_read_in_the_merchants_country(api, ada, written):
    response = look_up(api, written)
    assert response.status_code == 200
    assert response.get_json()["id"] == ada.id


@pytest.mark.parametrize("path", ["/api/v1/members/+14155550100", "/api/v1/members/%2B14155550100",
                                  "/api/v1/members/4155550100/ledger", "/api/v1/members/lookup?phone=%2B14155550100"])
def test_a_phone_in_the_url_is_no_member_route(api, ada, path):
    response = api.get(path)
    assert response.status_code in (404, 405)
    assert "Ada" not in response.text


@pytest.mark.parametrize("q", ["+14155550100", "4155550100", "(415) 555-0100", "0100 0100"])
def test_a_search_by_a_whole_phone_number_is_refused_with_the_way_to_look_it_up(api, ada, q):
    response = api.get("/api/v1/members", query_string={"q": q})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_q" and "POST /api/v1/members/lookup" in error["message"]


def test_a_pending_member_is_reported_as_pending(api, session, merchant, now):
    session.add(Member(merchant_id=merchant.id, phone="+14155550111", language="en", created_at=now, stage=Stage.PENDING))
    session.commit()
    body = look_up(api, "+14155550111").get_json()
    assert (body["stage"], body["joined_at"]) == ("pending", None)


def test_an_unknown_phone_is_404(api, ada):
    response = look_up(api, "+14155550199")
    assert response.status_code == 404
    assert response.get_json()["error"] == {"code": "member_not_found", "message": "no member has the phone +14155550199"}


@pytest.mark.parametrize("member_id", ["999", "2147483647", "2147483648", "99999999999999999999", "0", "-1", "x"])
def test_an_unknown_or_impossible_id_is_404(api, ada, member_id):
    for path in (f"/api/v1/members/{member_id}", f"/api/v1/members/{member_id}/ledger"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] in ("member_not_found", "not_found")


def test_another_merchants_member_is_404(client, api, session, other_merchant, now):
    grace = members.join(session, other_merchant, "+14155550122", name="Grace", language="en", now=now)
    session.commit()
    assert look_up(api, "+14155550122").status_code == 404
    assert api.get(f"/api/v1/members/{grace.id}").status_code == 404
    assert api.get(f"/api/v1/members/{grace.id}/ledger").status_code == 404
    assert api.get("/api/v1/members?q=Grace").get_json()["members"] == []


@pytest.mark.parametrize("written", ["abc", "12", "+999 1234", "1" * 41])
def test_a_bad_phone_is_400_with_an_actionable_message(api, written):
    response = look_up(api, written)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_phone"
    assert "+14155550100" in error["message"] and "US" in error["message"]


def test_list_members_newest_first_with_pages(api, session, merchant, now):
    for index in range(PER_PAGE + 3):
        session.add(
            Member(merchant_id=merchant.id, phone=f"+1415555{index:04d}", language="en",
                   created_at=now + timedelta(minutes=index), joined_at=now)
        )
    session.commit()
    first = api.get("/api/v1/members").get_json()
    assert (first["page"], first["per_page"], first["total"], first["pages"], first["next_page"]) == (
        1, PER_PAGE, PER_PAGE + 3, 2, 2,
    )
    assert [member["phone"] for member in first["members"][:2]] == ["+14155550052", "+14155550051"]
    second = api.get("/api/v1/members?page=2").get_json()
    assert [member["phone"] for member in second["members"]] == ["+14155550002", "+14155550001", "+14155550000"]
    assert second["next_page"] is None
    past_the_end = api.get("/api/v1/members?page=3").get_json()
    assert (past_the_end["members"], past_the_end["page"], past_the_end["next_page"]) == ([], 3, None)


def test_search_by_name_or_last_digits(api, session, merchant, ada, now):
    members.join(session, merchant, "+14155550177", name="Charles Babbage", language="en", now=now)
    session.commit()
    assert [m["name"] for m in api.get("/api/v1/members?q=lovelace").get_json()["members"]] == ["Ada Lovelace"]
    assert [m["name"] for m in api.get("/api/v1/members?q=0177").get_json()["members"]] == ["Charles Babbage"]
    assert api.get("/api/v1/members?q=100%25").get_json()["total"] == 0


@pytest.mark.parametrize(
    "query, code",
    [("page=0", "invalid_page"), ("page=x", "invalid_page"), ("page=-1", "invalid_page"), ("page=１", "invalid_page"),
     ("q=" + "x" * 81, "invalid_q"), ("q=a%00b", "invalid_q")],
)
def test_bad_list_parameters_are_400(api, query, code):
    response = api.get(f"/api/v1/members?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_an_unknown_query_parameter_is_400_naming_the_known_ones(api, ada):
    response = api.get("/api/v1/members?pgae=2")
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "unknown_parameter", "message": "unknown query parameter 'pgae'; the parameters are q, page, per_page",
    }
    assert api.get(f"/api/v1/members/{ada.id}?verbose=1").get_json()["error"]["code"] == "unknown_parameter"


def test_the_status_says_member_invited_or_opted_out(api, session, ada, loyal_merchant, now):
    session.add(Member(merchant_id=loyal_merchant.id, phone="+14155550111", language="en", created_at=now))
    session.add(Member(merchant_id=loyal_merchant.id, phone="+14155550112", language="en", created_at=now,
                       is_opted_out=True))
    session.commit()
    listed = api.get("/api/v1/members").get_json()["members"]
    assert {member["phone"]: member["status"] for member in listed} == {
        ada.phone: "member", "+14155550111": "invited", "+14155550112": "opted_out",
    }


def test_per_page_sets_the_page_size(api, session, merchant, now):
    for index in range(5):
        session.add(Member(merchant_id=merchant.id, phone=f"+1415555{index:04d}", language="en",
                           created_at=now + timedelta(minutes=index), joined_at=now))
    session.commit()
    response = api.get("/api/v1/members?per_page=2&page=2")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["per_page"], body["pages"], body["next_page"]) == (2, 3, 3)
    assert [member["phone"] for member in body["members"]] == ["+14155550002", "+14155550001"]
    assert api.get("/api/v1/members?per_page=50").status_code == 200
    refused = api.get("/api/v1/members?per_page=101")
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (400, "invalid_per_page")
