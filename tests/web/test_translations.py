"""The merchant pages in two languages: every string marked in the templates and the web code has a Chinese
translation in the catalogue, a signed-in user reads the pages in their language (their merchant's unless they
switched), and dates and numbers follow the language."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import select

from smscrm.models import StaffUser
from tests.conftest import OWNER_PASSWORD
from tests.web.conftest import csrf_token, owner  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "smscrm" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "shown": None}  # as `make messages` (pybabel's defaults, -k _l -k shown)


def marked_strings() -> set:
    """Every msgid in the code and templates, read with the map `make messages` uses (babel.cfg)."""
    method_map, options_map = [], {}
    section = None
    for line in (ROOT / "babel.cfg").read_text().splitlines():
        if match := re.match(r"\[(\w+): (.+)\]", line):
            section = match.group(2)
            method_map.append((section, match.group(1)))
            options_map[section] = {}
        elif "=" in line and section and not line.startswith("#"):
            key, value = (part.strip() for part in line.split("=", 1))
            options_map[section][key] = value
    return {
        (context, message if isinstance(message, str) else message[0])
        for _file, _line, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS
        )
    }


def test_every_marked_string_has_a_chinese_translation():
    with CATALOGUE.open("rb") as source:
        catalogue = read_po(source)
    translated = {
        (message.context, message.id if isinstance(message.id, str) else message.id[0])
        for message in catalogue
        if message.id and not message.fuzzy and all(message.string if isinstance(message.string, tuple)
                                                    else [message.string])
    }
    missing = sorted(marked_strings() - translated)
    assert not missing, f"run `make messages` and translate these in {CATALOGUE.relative_to(ROOT)}: {missing}"


def test_a_merchant_in_chinese_reads_the_pages_in_chinese(client, session, merchant):
    merchant.default_language = "zh"
    session.commit()
    form = client.get("/sign-in").text
    client.post("/sign-in", data={"email": "owner@tea.example", "password": "correct horse battery",
                                  "csrf_token": csrf_token(form)})
    page = client.get("/counter").text
    assert '<html lang="zh-Hans">' in page
    assert "记录消费" in page and "顾客电话" in page and "退出登录" in page and "跳到正文" in page
    assert "Record a purchase" not in page


def test_the_language_switch_is_kept_on_the_login(owner, session, merchant):  # noqa: F811
    home = owner.get("/").text
    assert '<html lang="en">' in home and "Today at Green Leaf Tea" in home
    response = owner.post("/language", data={"language": "zh", "next": "/members", "csrf_token": csrf_token(home)})
    assert response.status_code == 302 and response.headers["Location"] == "/members"
    assert session.scalar(select(StaffUser.language)) == "zh"
    members = owner.get("/members").text
    assert "还没有会员" in members and '<html lang="zh-Hans">' in members
    back = owner.post("/language", data={"language": "en", "csrf_token": csrf_token(members)})
    assert back.headers["Location"] == "/"
    assert "No members yet" in owner.get("/members").text


def test_a_language_the_pages_do_not_have_is_refused(owner):  # noqa: F811
    home = owner.get("/").text
    response = owner.post("/language", data={"language": "fr", "csrf_token": csrf_token(home)})
    assert response.status_code == 400
    assert "Choose English or Chinese." in response.text


def test_an_error_page_is_in_the_readers_language(owner):  # noqa: F811
    home = owner.get("/").text
    owner.post("/language", data={"language": "zh", "csrf_token": csrf_token(home)})
    missing = owner.get("/members/999999")
    assert missing.status_code == 404
    assert "找不到页面" in missing.text and "这个地址没有页面" in missing.text
    assert "requested URL" not in missing.text


def test_a_refusal_of_the_domain_reads_in_the_readers_language(owner, other_merchant):  # noqa: F811
    home = owner.get("/").text
    owner.post("/language", data={"language": "zh", "csrf_token": csrf_token(home)})
    page = owner.get("/settings/numbers").text
    taken = owner.post("/settings/numbers", data={"csrf_token": csrf_token(page), "number": other_merchant.primary_number})
    assert f"号码 {other_merchant.primary_number} 已经属于某个商家。" in taken.text
    assert "already belongs" not in taken.text


def test_a_password_too_easy_to_guess_is_explained_in_the_readers_language(owner):  # noqa: F811
    home = owner.get("/").text
    owner.post("/language", data={"language": "zh", "csrf_token": csrf_token(home)})
    page = owner.get("/account/password").text
    refused = owner.post("/account/password", data={"csrf_token": csrf_token(page), "current": OWNER_PASSWORD,
                                                     "password": "qwertyuiop", "again": "qwertyuiop"}).text
    assert "这个密码太容易被猜到：它是常见密码、单词或名字。请用几个互不相干的词组成密码。" in refused
    assert "easy to guess" not in refused


def test_dates_and_numbers_follow_the_language(owner, session, merchant):  # noqa: F811
    home = owner.get("/").text
    owner.post("/counter", data={"phone": "+14155550100", "amount": "1234.50", "key": "k" * 20,
                                 "csrf_token": csrf_token(owner.get("/counter").text)}, follow_redirects=True)
    owner.post("/language", data={"language": "zh", "csrf_token": csrf_token(home)})
    done = owner.get("/counter/purchases/1").text
    assert "1,234.50" in done
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", done)


TEMPLATES = ROOT / "smscrm" / "templates"
NOT_WORDS = re.compile(
    r"\{#.*?#\}|\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}|\{%.*?%\}|\{\{.*?\}\}|<script\b.*?</script>|<style\b.*?</style>",
    re.S,
)
TEXT = re.compile(r">([^<>]+)<|\b(?:aria-label|placeholder|title|alt)=\"([^\"]*)\"")
# Words that are the same in both languages: the product, the keywords shoppers text, encodings, the language names
# of the switch (each written in its own language), example codes and placeholders.
SAME_IN_BOTH = {"smscrm", "JOIN", "REDEEM", "STOP", "GSM", "UCS", "TEA", "English", "K7Q2MX"}


def unmarked_text(source: str) -> list[str]:
    """Words in a template's text or readable attributes that are not inside _() or {% trans %}."""
    words = []
    for match in TEXT.finditer(NOT_WORDS.sub("", source)):
        text = match.group(1) or match.group(2) or ""
        text = re.sub(r"\{\w+\}", "", text)  # {name}: a placeholder of a shopper text
        words += [word for word in re.findall(r"[A-Za-z][A-Za-z'’-]+", text) if word not in SAME_IN_BOTH]
    return words


def test_no_template_text_is_left_unmarked():
    unmarked = {
        str(path.relative_to(TEMPLATES)): words
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (words := unmarked_text(path.read_text(encoding="utf-8")))
    }
    assert not unmarked, f"wrap these in {{{{ _('…') }}}} or {{% trans %}} (then `make messages`): {unmarked}"


def test_the_unmarked_text_check_sees_plain_english():
    assert unmarked_text('<p class="hint">Only the owner can change this.</p>') == [
        "Only", "the", "owner", "can", "change", "this"]
    assert unmarked_text('<button aria-label="Delete it">{{ _("Delete") }}</button>') == ["Delete", "it"]
    assert unmarked_text("<p>{% trans n=1 %}{{ n }} member{% endtrans %} · {{ _('Show all') }}</p>") == []
