"""What shoppers text us: keyword parsing (pure) and `handle`, which acts on it and says what to reply.

Keywords are matched case- and width-insensitively (NFKC folds full-width letters and spaces).
Opt-out and opt-in words count only when they are the whole message; other keywords are the
first word, and Chinese keywords may run straight into their argument (入会张三).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from smscrm import points
from smscrm.errors import InvalidPhone, NotFound
from smscrm.loyalty import members, referrals, rewards
from smscrm.messaging import consent, inbox, outbox, phones, surveys, texts
from smscrm.messaging.arrival import Card, Shop, arrive, card_for, reply_address
from smscrm.models import (
    ConsentAction,
    ConsentChannel,
    InboundMessage,
    Intent,
    Language,
    Member,
    Merchant,
    OutboundMessage,
)
from smscrm.models.message import is_once_a_day

OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "TD", "T", "R", "退订", "取消"}
OPT_IN_WORDS = {"START", "UNSTOP", "YES", "订阅", "开通"}
CHINESE_OPT_OUT = {"TD", "T", "R", "退订", "取消"}
CHINESE_OPT_IN = {"订阅", "开通"}
FIRST_WORD_KEYWORDS = {
    "JOIN": (Intent.JOIN, Language.EN),
    "入会": (Intent.JOIN, Language.ZH),
    "HELP": (Intent.HELP, Language.EN),
    "INFO": (Intent.HELP, Language.EN),
    "帮助": (Intent.HELP, Language.ZH),
    "BAL": (Intent.BALANCE, Language.EN),
    "POINTS": (Intent.BALANCE, Language.EN),
    "积分": (Intent.BALANCE, Language.ZH),
    "BDAY": (Intent.BIRTHDAY, Language.EN),
    "生日": (Intent.BIRTHDAY, Language.ZH),
    "LIKE": (Intent.INTEREST, Language.EN),
    "兴趣": (Intent.INTEREST, Language.ZH),
    "REDEEM": (Intent.REDEEM, Language.EN),
    "兑换": (Intent.REDEEM, Language.ZH),
    "REFER": (Intent.REFER, Language.EN),
    "推荐": (Intent.REFER, Language.ZH),
}
CHINESE_KEYWORDS = tuple(k for k in FIRST_WORD_KEYWORDS if not k.isascii())
_TRAILING_PUNCTUATION = ".,!?;:。，！？；：~…"
_BIRTHDAY = re.compile(r"^(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")  # [1990-]03-08
_NAMED_MONTH = (  # March 8, Mar. 8th, 1990 / 8 March 1990
    re.compile(r"^(?P<month>[A-Z]+)\.?\s*(?P<day>\d{1,2})(?:ST|ND|RD|TH)?(?:,?\s*(?P<year>\d{4}))?$"),
    re.compile(r"^(?P<day>\d{1,2})(?:ST|ND|RD|TH)?\s*(?P<month>[A-Z]+)\.?(?:,?\s*(?P<year>\d{4}))?$"),
)
_MONTHS = ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER", "OCTOBER",
           "NOVEMBER", "DECEMBER")
_CJK = re.compile(r"[\u3400-\u9fff]")
_RATING = re.compile(r"^([1-5])\s*(?:分|星|/\s*5|STARS?)?$")  # 4, 4分, 4/5, 4 stars: a rating, if one is asked for
MAX_BODY_CHARS = 1600
MIN_BIRTH_YEAR = 1900


@dataclass(frozen=True)
class Command:
    """An inbound text, understood: the intent, its argument, and the language it was written in."""

    intent: Intent
    argument: str = ""
    language: str | None = None
    keyword: str = ""


def parse(body: str) -> Command:
    """Understand a text. Pure: no database, no clock."""
    text = unicodedata.normalize("NFKC", body or "").strip()
    whole = text.strip(_TRAILING_PUNCTUATION + " ").upper()
    if whole in OPT_OUT_WORDS:
        language = Language.ZH if whole in CHINESE_OPT_OUT else Language.EN
        return Command(Intent.OPT_OUT, language=language, keyword=whole)
    if whole in OPT_IN_WORDS:
        language = Language.ZH if whole in CHINESE_OPT_IN else Language.EN
        return Command(Intent.OPT_IN, language=language, keyword=whole)
    for keyword in CHINESE_KEYWORDS:
        if text.startswith(keyword):
            intent, language = FIRST_WORD_KEYWORDS[keyword]
            return Command(intent, _argument(text[len(keyword):]), language, keyword)
    first, rest = (text.split(None, 1) + ["", ""])[:2]
    word = first.rstrip(_TRAILING_PUNCTUATION).upper()
    if word in FIRST_WORD_KEYWORDS:
        intent, language = FIRST_WORD_KEYWORDS[word]
        return Command(intent, _argument(rest), language, word)
    rating = _RATING.match(whole)
    if rating:
        return Command(Intent.RATING, rating.group(1), Language.ZH if _CJK.search(text) else None)
    return Command(Intent.FEEDBACK, text, Language.ZH if _CJK.search(text) else None)


def _argument(rest: str) -> str:
    return " ".join(rest.split()).strip(_TRAILING_PUNCTUATION + " :：")


@dataclass(frozen=True)
class Birthday:
    month: int
    day: int
    year: int | None = None  # when the member gave it

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}-{self.day:02d}" if self.year else f"{self.month:02d}-{self.day:02d}"


def parse_birthday(text: str) -> Birthday | None:
    """The birthday in 03-08, 3/8, 3.8, 3月8日, March 8, 8 Mar, with a year first (1990-03-08, 1990年3月8日) or
    after a month's name (March 8, 1990); None when it is not a real date (Feb 29 is, without a year)."""
    text = unicodedata.normalize("NFKC", text or "").strip().upper()
    match = _BIRTHDAY.match(text)
    if match:
        year, month, day = match.groups()
    else:
        match = next(filter(None, (pattern.match(text) for pattern in _NAMED_MONTH)), None)
        names = [name for name in _MONTHS if match and name.startswith(match["month"])]
        if not match or len(names) != 1 or len(match["month"]) < 3:
            return None
        year, month, day = match["year"], _MONTHS.index(names[0]) + 1, match["day"]
    birthday = Birthday(int(month), int(day), int(year) if year else None)
    try:
        date(birthday.year or 2000, birthday.month, birthday.day)  # 2000 is a leap year: 02-29 is accepted
    except ValueError:
        return None
    return birthday


@dataclass(frozen=True)
class InboundSms:
    """The fields of Twilio's Messaging webhook that we act on."""

    message_sid: str
    from_number: str
    to_number: str
    body: str


@dataclass(frozen=True)
class Reply:
    """What to answer in TwiML; None means answer with silence."""

    body: str | None


_INSERT_INBOUND = insert(InboundMessage.__table__)  # built once (its cache key too): the busiest paths run it


def handle(session: Session, sms: InboundSms, now: datetime) -> Reply:
    """Act on an inbound text once and say what to reply, in the caller's transaction (the caller commits).

    A MessageSid handled before (Twilio retries) returns the first reply and writes nothing. Raises NotFound
    when no merchant has the number that was texted, and IntegrityError when a concurrent twin wrote first
    (the same MessageSid, or the same phone joining): after a rollback, handling it again sees the twin's rows.
    """
    sms = _storable(sms)
    to_phone = _to_e164(sms.to_number)
    # the number as sent first: a member's number was read when they joined, and Twilio sends it as stored (E.164)
    arrival = arrive(session, message_sid=sms.message_sid, to_phone=to_phone, from_phone=sms.from_number)
    if arrival is None:
        raise NotFound(f"no merchant has the number {phones.mask(sms.to_number)}")
    if arrival.was_handled:
        return Reply(arrival.earlier_reply)
    shop, command = arrival.shop, parse(sms.body)
    phone, card, is_stranger_opted_out = sms.from_number, arrival.card, arrival.is_stranger_opted_out
    is_own_number = arrival.is_own_number
    if card is None:  # no member has the number as sent: read it (a national one with the merchant's country)
        phone = reply_address(sms.from_number, shop.country)
        if phone is not None and phone != sms.from_number:
            card, is_stranger_opted_out, is_own_number = card_for(session, shop.id, phone)
    if phone is None or is_own_number:  # not a phone to answer by SMS: kept for the merchant to read, not acted on
        _keep(session, shop, sms, to_phone, phone=sms.from_number, intent=Intent.FEEDBACK, now=now)
        return Reply(None)
    conversation = _Conversation(session, shop, phone, card, is_stranger_opted_out, command, sms, now)
    reply_key, values = conversation.respond()
    if conversation.intent == Intent.FEEDBACK:
        inbox.file_message(session, shop.id, phone=phone, member_id=conversation.member_id, body=sms.body, now=now)
    body = reply_id = None
    if reply_key is not None:
        body = texts.render(shop, reply_key, conversation.language, **values)
        reply_id = outbox.reply(
            session, merchant_id=shop.id, member_id=conversation.member_id, to_phone=phone, from_phone=to_phone,
            body=body, purpose=reply_key, now=now,
        )
    _keep(session, shop, sms, to_phone, phone=phone, intent=conversation.intent, now=now,
          member_id=conversation.member_id, reply_id=reply_id)
    return Reply(body)


def _keep(session: Session, shop: Shop, sms: InboundSms, to_phone: str, *, phone: str, intent: Intent,
          now: datetime, member_id: int | None = None, reply_id: int | None = None) -> None:
    """The inbound text is stored last, with what it was understood as and the reply it got. Its MessageSid
    is unique: a twin of this text that committed first makes this flush raise IntegrityError."""
    session.flush()  # what the conversation changed in ORM objects goes first
    session.connection().execute(_INSERT_INBOUND, dict(
        merchant_id=shop.id, message_sid=sms.message_sid, from_phone=phone, to_phone=to_phone, body=sms.body,
        intent=intent, member_id=member_id, reply_id=reply_id, received_at=now,
    ))


def _storable(sms: InboundSms) -> InboundSms:
    """The message without NUL characters (PostgreSQL text cannot hold them), cut to column sizes."""

    def clean(value: str, limit: int) -> str:
        return (value or "").replace("\x00", "")[:limit]

    return InboundSms(
        message_sid=clean(sms.message_sid, 64),
        from_number=clean(sms.from_number, 40),
        to_number=clean(sms.to_number, 40),
        body=clean(sms.body, MAX_BODY_CHARS),
    )


def _to_e164(number: str) -> str:
    try:
        return phones.normalise(number)
    except InvalidPhone:
        return (number or "")[:20]


class _Conversation:
    """One inbound text being answered: picks the action for the intent and the reply key.

    It starts from the `Card` read with the merchant; the ORM membership and merchant are loaded
    only by the texts that change more than consent (`load_member`, `merchant`). Every change is
    written in the session as it is made.
    """

    def __init__(self, session: Session, shop: Shop, phone: str, card: Card | None, is_stranger_opted_out: bool,
                 command: Command, sms: InboundSms, now: datetime):
        self.session, self.shop, self.phone, self.card = session, shop, phone, card
        self.is_stranger_opted_out = is_stranger_opted_out
        self.command, self.intent, self.sms, self.now = command, command.intent, sms, now
        self.member: Member | None = None  # the ORM membership, once a text needed it (or created it)

    @cached_property
    def merchant(self) -> Merchant:
        return self.session.get(Merchant, self.shop.id)

    def load_member(self) -> Member:
        """The sender's membership as an ORM object, for the texts that change it."""
        if self.member is None:
            self.member = self.session.get(Member, self.card.id)
        return self.member

    @property
    def member_id(self) -> int | None:
        known = self.member or self.card
        return known.id if known else None

    @property
    def language(self) -> str:
        """The language the member joined with; for anyone else, the keyword's, else the merchant's."""
        known = self.member or self.card
        return known.language if known else self.command.language or self.shop.default_language

    @property
    def _is_member(self) -> bool:
        known = self.member or self.card
        return known is not None and known.is_joined

    def respond(self) -> tuple[str | None, dict]:
        intent = self.intent
        opted_out = self.card.is_opted_out if self.card else self.is_stranger_opted_out
        if opted_out and intent not in (Intent.OPT_IN, Intent.JOIN):
            return None, {}  # silence after the one confirmation, until they opt back in
        if intent is Intent.OPT_OUT:
            self._consent(ConsentAction.OPT_OUT)
            return "opted_out", {}
        if intent is Intent.JOIN:
            return self._join(opted_out)
        if intent is Intent.OPT_IN:
            if opted_out:
                self._consent(ConsentAction.OPT_IN)
                return "opted_in", {}
            return ("opted_in", {}) if self._is_member else self._join_hint()
        if intent is Intent.HELP:
            return "help", {}
        if intent is Intent.RATING:
            rated = self._rating()
            if rated is not None:
                return rated
            intent = self.intent = Intent.FEEDBACK  # no question is waiting for it: just a message
        if not self._is_member:
            return self._join_hint()
        if intent is Intent.BALANCE:
            return "balance", {"points": self.card.points_balance}
        if intent is Intent.BIRTHDAY:
            return self._birthday()
        if intent is Intent.INTEREST:
            return self._interest()
        if intent is Intent.REDEEM:
            return rewards.answer_redeem_text(self.session, self.merchant, self.load_member(), self.command.argument,
                                              now=self.now)
        if intent is Intent.REFER:
            return referrals.answer_refer_text(self.session, self.merchant, self.load_member(), self.command.argument,
                                               now=self.now)
        return self._feedback()

    def _consent(self, action: ConsentAction) -> None:
        """Kept as evidence with the keyword and this text's MessageSid, and mirrored on the membership."""
        consent.record_consent(
            self.session, merchant_id=self.shop.id, phone=self.phone, action=action, keyword=self.command.keyword,
            channel=ConsentChannel.SMS, now=self.now, source_sid=self.sms.message_sid,
        )

    def _join(self, opted_out: bool) -> tuple[str, dict]:
        """Joining makes a member (joining again is harmless); the welcome shows a welcome bonus and the points
        held from purchases made before joining."""
        referrer = referrals.referrer_for_code(self.session, self.shop.id, self.command.argument)  # JOIN <code>
        name = "" if referrer else self.command.argument
        if self.card is None:
            member = self._enrol(name)
            if self.shop.welcome_bonus or referrer is not None:  # a stranger has no held purchases
                member = self.load_member()
                points.on_join(self.session, self.merchant, member, referrer=referrer, now=self.now)
        else:
            was_member = self._is_member
            member = members.join(
                self.session, self.merchant, self.phone, name=name, now=self.now, member=self.load_member(),
                language=self.member.language if was_member else self.command.language,
            )
            if opted_out or not was_member:
                self._consent(ConsentAction.OPT_IN)
            if was_member:
                return ("opted_in" if opted_out else "already_member"), {}
            points.on_join(self.session, self.merchant, member, referrer=referrer, now=self.now)
        suffix = "" if not member.name else (f", {member.name}" if self.language == Language.EN else member.name)
        balance = member.points_balance
        return ("welcome_points" if balance else "welcome"), {"name_suffix": suffix, "points": balance}

    def _enrol(self, name: str) -> Card:
        """A stranger joins: their membership, in the keyword's language, and its consent evidence."""
        name, language = members.clean_name(name), self.command.language or self.shop.default_language
        member_id = members.enrol(
            self.session, self.shop.id, self.phone, name=name, language=language, now=self.now,
            referral_code=referrals.new_code(),
        )
        self.card = Card(member_id, name, language, joined_at=self.now, points_balance=0, is_opted_out=False)
        self._consent(ConsentAction.OPT_IN)
        return self.card

    def _join_hint(self) -> tuple[str | None, dict]:
        if self._replied_today("join_hint"):
            return None, {}
        return "join_hint", {}

    def _birthday(self) -> tuple[str, dict]:
        """A real date (a year, when given, from 1900 to this year) is kept; anything else gets the examples."""
        birthday = parse_birthday(self.command.argument)
        if birthday is None or (birthday.year is not None and not MIN_BIRTH_YEAR <= birthday.year <= self.now.year):
            return "birthday_invalid", {}
        members.set_birthday(self.session, self.load_member(), birthday.month, birthday.day, year=birthday.year)
        return "birthday_saved", {"birthday": str(birthday)}

    def _interest(self) -> tuple[str, dict]:
        topic = members.add_interest(self.session, self.load_member(), self.command.argument, now=self.now)
        if topic is None:
            return "interest_invalid", {}
        return "interest_saved", {"topic": topic}

    def _rating(self) -> tuple[str, dict] | None:
        """The rating of the visit asked about, else of a recent visit (`surveys.visit_to_rate`); None when there
        is none to rate."""
        survey = surveys.visit_to_rate(self.session, self.load_member(), now=self.now) if self._is_member else None
        if survey is None:
            return None
        is_low = surveys.record_rating(
            self.session, self.merchant, self.member, survey, int(self.command.argument), body=self.sms.body,
            now=self.now,
        )
        return ("rating_sorry" if is_low else "rating_thanks"), {}

    def _feedback(self) -> tuple[str | None, dict]:
        """Kept in the inbox; at most one automatic acknowledgement a day, so a chat is not answered by a bot."""
        if self._replied_today("feedback_ack"):
            return None, {}
        return "feedback_ack", {}

    def _replied_today(self, purpose: str) -> bool:
        """Whether the phone got a reply for `purpose` since midnight in the merchant's timezone."""
        zone = ZoneInfo(self.shop.timezone)
        since = datetime.combine(self.now.astimezone(zone).date(), time(0), tzinfo=zone)
        return self.session.scalar(select(exists().where(
            OutboundMessage.merchant_id == self.shop.id, OutboundMessage.to_phone == self.phone,
            is_once_a_day(purpose), OutboundMessage.created_at >= since,
        )))
