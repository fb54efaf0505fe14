"""Campaigns: compose, schedule, fan out to the outbox, pause, resume, cancel; holdout groups.

Starting a campaign (`start_campaign`) is one transaction of set-based SQL:
1. the campaign moves from draft/scheduled to sending — only one caller can do that;
2. its segment is counted once: who matched, who has not joined, who opted out;
3. the holdout (a percentage of the reachable members, rounded) is drawn at random and recorded;
4. one INSERT … SELECT writes an outbox row per reachable member not held out, with the text
   already rendered in SQL; the dedupe key `campaign:<id>:<phone>` means one text per phone.
"Send now" does this in the request for an audience up to SEND_NOW_IN_REQUEST members, and leaves
a larger one to the scheduler (`start_due_campaigns`, every minute). The worker sends the rows
(quiet hours, caps, rate limits and the opt-out check at send time are its rules). Pausing holds the campaign's queued rows (status `held`, which no worker claims);
resuming puts them back; cancelling marks them `cancelled`. A row already claimed by a worker
when the campaign pauses is sent.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import and_, func, insert, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from smscrm.db.conflicts import insert_on_conflict
from smscrm.errors import N_, Conflict, NotFound, ValidationError
from smscrm.marketing import campaign_texts, segments
from smscrm.messaging import phones
from smscrm.messaging.outbox import queue_text
from smscrm.messaging.texts import merchant_name
from smscrm.models import (
    DEDUPE_CONFLICT,
    Campaign,
    CampaignHoldout,
    CampaignStatus,
    Category,
    Language,
    Member,
    Merchant,
    OutboundMessage,
    Segment,
    Status,
)
from smscrm.sending.parts import parts_sql

log = logging.getLogger(__name__)

PURPOSE = "campaign"
TEST_PURPOSE = "campaign_test"
MAX_NAME_CHARS = 80
MAX_HOLDOUT_PCT = 50
MAX_RETURN_WINDOW_DAYS = 90
SAMPLE_SIZE = 5
SEND_NOW_IN_REQUEST = 50_000  # larger audiences are fanned out by the scheduler, not in a web request
EDITABLE = (CampaignStatus.DRAFT,)
STARTABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
CANCELLABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED)
UNSENT = (Status.QUEUED, Status.HELD)


@dataclass(frozen=True)
class CampaignDraft:
    """What the merchant wrote in the campaign form, before it is checked."""

    name: str
    text_en: str | None = None
    text_zh: str | None = None
    holdout_pct: int = 0
    return_window_days: int = 14


def save_draft(
    session: Session, merchant: Merchant, draft: CampaignDraft, *, segment: Segment | None, now: datetime,
    campaign: Campaign | None = None,
) -> Campaign:
    """Create a draft campaign, or change one that is still a draft."""
    if campaign is not None and campaign.status not in EDITABLE:
        raise Conflict(N_("only a draft can be changed; this campaign is %(status)s"), status=campaign.status)
    name = " ".join((draft.name or "").split())
    if not name or len(name) > MAX_NAME_CHARS:
        raise ValidationError(N_("a campaign needs a name of 1 to %(count)s characters"), count=MAX_NAME_CHARS)
    text_en = campaign_texts.check_text(draft.text_en, "the English text")
    text_zh = campaign_texts.check_text(draft.text_zh, "the Chinese text")
    if not text_en and not text_zh:
        raise ValidationError(N_("write the text of the campaign (in English, Chinese or both)"))
    if not 0 <= draft.holdout_pct <= MAX_HOLDOUT_PCT:
        raise ValidationError(N_("the holdout is 0 to %(count)s percent of the segment"), count=MAX_HOLDOUT_PCT)
    if not 1 <= draft.return_window_days <= MAX_RETURN_WINDOW_DAYS:
        raise ValidationError(N_("count returns within 1 to %(count)s days"), count=MAX_RETURN_WINDOW_DAYS)
    if segment is not None and segment.merchant_id != merchant.id:
        raise NotFound(N_("no such segment"))
    if campaign is None:
        campaign = Campaign(merchant_id=merchant.id, status=CampaignStatus.DRAFT, created_at=now)
        session.add(campaign)
    campaign.name = name
    campaign.text_en, campaign.text_zh = text_en, text_zh
    campaign.holdout_pct = draft.holdout_pct
    campaign.return_window_days = draft.return_window_days
    campaign.segment = segment
    campaign.updated_at = now
    session.flush()
    return campaign


def get_campaign(session: Session, merchant_id: int, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.merchant_id != merchant_id:
        raise NotFound(N_("no such campaign"))
    return campaign


def list_campaigns(session: Session, merchant_id: int) -> list[Campaign]:
    """The merchant's campaigns, newest first."""
    return list(
        session.scalars(
            select(Campaign).where(Campaign.merchant_id == merchant_id).order_by(Campaign.created_at.desc(), Campaign.id.desc())
        )
    )


def audience(session: Session, merchant: Merchant, campaign: Campaign, *, now: datetime):
    """The campaign's segment as a condition on `members`."""
    if campaign.segment is None:
        raise ValidationError(N_("choose who receives the campaign: a segment, or a filter"))
    return segments.members_condition(session, campaign.segment, merchant=merchant, now=now)


def schedule_campaign(session: Session, campaign: Campaign, *, at: datetime, now: datetime) -> None:
    """Send the draft at `at` (UTC); the scheduler starts it when it is due."""
    _require(campaign, EDITABLE, "schedule")
    _check_ready(campaign)
    if at < now - timedelta(minutes=1):
        raise ValidationError(N_("that time has passed; choose a time from now on, or send now"))
    campaign.status = CampaignStatus.SCHEDULED
    campaign.scheduled_at = at
    campaign.updated_at = now
    session.flush()


def unschedule_campaign(session: Session, campaign: Campaign, *, now: datetime) -> None:
    """Back to a draft, to change it or send it another time."""
    _require(campaign, (CampaignStatus.SCHEDULED,), "unschedule")
    _set_status(session, campaign, CampaignStatus.DRAFT, (CampaignStatus.SCHEDULED,), now=now, scheduled_at=None)


@dataclass(frozen=True)
class FanOut:
    matched: int
    not_joined: int
    opted_out: int
    holdout: int
    duplicates: int
    queued: int


def start_campaign(session: Session, merchant: Merchant, campaign: Campaign, *, now: datetime) -> FanOut:
    """Fan the campaign out to the outbox now (see the module docstring). The caller commits."""
    _check_ready(campaign)
    if campaign.merchant_id != merchant.id:
        raise NotFound(N_("no such campaign"))
    _set_status(session, campaign, CampaignStatus.SENDING, STARTABLE, now=now, started_at=now)
    condition = audience(session, merchant, campaign, now=now)
    counted = segments.count(session, condition)  # as the preview counted: by members.status
    matched, not_joined, opted_out, reachable = counted.matching, counted.invited, counted.opted_out, counted.reachable
    eligible = and_(condition, segments.REACHABLE)
    holdout = holdout_size(reachable, campaign.holdout_pct)
    if holdout:
        _draw_holdout(session, campaign, eligible, holdout)
    queued = _queue_messages(session, merchant, campaign, eligible, now=now)
    campaign.audience = _audience_record(session, campaign.segment)
    campaign.matched_count, campaign.not_joined_count, campaign.opted_out_count = matched, not_joined, opted_out
    campaign.holdout_count, campaign.queued_count = holdout, queued
    campaign.duplicate_count = reachable - holdout - queued
    session.flush()
    log.info(
        "campaign %s started: %d matched, %d queued, %d held out, %d not joined, %d opted out",
        campaign.id, matched, queued, holdout, not_joined, opted_out,
    )
    return FanOut(matched, not_joined, opted_out, holdout, campaign.duplicate_count, queued)


def _draw_holdout(session: Session, campaign: Campaign, eligible, size: int) -> None:
    """`size` reachable members drawn uniformly at random, recorded as the campaign's holdout."""
    drawn = select(literal(campaign.id), Member.id).where(eligible).order_by(func.random()).limit(size)
    session.execute(insert(CampaignHoldout).from_select(["campaign_id", "member_id"], drawn))


def _queue_messages(session: Session, merchant: Merchant, campaign: Campaign, eligible, *, now: datetime) -> int:
    """One INSERT … SELECT of every eligible member not held out; returns the rows written."""
    held_out = select(CampaignHoldout.member_id).where(
        CampaignHoldout.campaign_id == campaign.id, CampaignHoldout.member_id == Member.id
    ).exists()
    at = OutboundMessage.send_after.type
    body = campaign_texts.body_sql(merchant, campaign)
    rows = select(
        literal(merchant.id), Member.id, literal(campaign.id), Member.phone, literal(merchant.primary_number),
        body, parts_sql(body), literal(Category.MARKETING.value), literal(PURPOSE),
        literal(Status.QUEUED.value), literal(f"{PURPOSE}:{campaign.id}:") + Member.phone,
        literal(now, at), literal(0), literal(now, at),
    ).where(eligible, ~held_out)
    columns = [
        "merchant_id", "member_id", "campaign_id", "to_phone", "from_phone", "body", "parts", "category", "purpose",
        "status", "dedupe_key", "send_after", "attempts", "created_at",
    ]
    statement = insert_on_conflict(session, OutboundMessage).from_select(columns, rows).on_conflict_do_nothing(**DEDUPE_CONFLICT)
    return session.execute(statement.execution_options(preserve_rowcount=True)).rowcount


def _audience_record(session: Session, segment: Segment) -> dict:
    """The segment's rules (and those of the segments it excludes) as they were at the start."""
    record = {"segment_id": segment.id, "name": segment.name, "rules": segment.rules}
    excluded = session.get(Segment, segment.exclude_segment_id) if segment.exclude_segment_id else None
    if excluded is not None:
        record["exclude"] = _audience_record(session, excluded)
    return record


def send_now(session: Session, merchant: Merchant, campaign: Campaign, *, now: datetime) -> FanOut | None:
    """Start the campaign now. Up to `SEND_NOW_IN_REQUEST` reachable members it fans out at once
    (returns the figures); a larger one is scheduled for `now` and the scheduler's next pass, within
    a minute, fans it out (returns None), so that no web request holds a million-row INSERT."""
    _check_ready(campaign)
    reachable = segments.count(session, audience(session, merchant, campaign, now=now)).reachable
    if reachable <= SEND_NOW_IN_REQUEST:
        return start_campaign(session, merchant, campaign, now=now)
    schedule_campaign(session, campaign, at=now, now=now)
    return None


def start_due_campaigns(sessionmaker: sessionmaker, *, now: datetime) -> list[int]:
    """Start every scheduled campaign that is due, each in its own transaction; returns their ids.

    Safe to run twice or from two schedulers: a campaign only leaves `scheduled` once.
    """
    with sessionmaker() as session:
        due = list(
            session.scalars(
                select(Campaign.id)
                .where(Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_at <= now)
                .order_by(Campaign.scheduled_at, Campaign.id)
            )
        )
    started = []
    for campaign_id in due:
        with sessionmaker() as session:
            campaign = session.get(Campaign, campaign_id)
            merchant = session.get(Merchant, campaign.merchant_id)
            try:
                start_campaign(session, merchant, campaign, now=now)
                session.commit()
            except Conflict:
                session.rollback()  # another scheduler (or the merchant) started or cancelled it meanwhile
                continue
            except Exception:
                session.rollback()
                log.exception("campaign %s could not start; it stays scheduled and is retried", campaign_id)
                continue
            started.append(campaign_id)
    return started


def pause_campaign(session: Session, campaign: Campaign, *, now: datetime) -> int:
    """Stop sending: the campaign's queued texts are held. Returns how many."""
    _set_status(session, campaign, CampaignStatus.PAUSED, (CampaignStatus.SENDING,), now=now, paused_at=now)
    return _move_messages(session, campaign, (Status.QUEUED,), Status.HELD)


def resume_campaign(session: Session, campaign: Campaign, *, now: datetime) -> int:
    """Carry on sending the held texts. Returns how many."""
    _set_status(session, campaign, CampaignStatus.SENDING, (CampaignStatus.PAUSED,), now=now, paused_at=None)
    return _move_messages(session, campaign, (Status.HELD,), Status.QUEUED)


def cancel_campaign(session: Session, campaign: Campaign, *, now: datetime) -> int:
    """Never send what is left. Returns how many texts were cancelled."""
    _set_status(session, campaign, CampaignStatus.CANCELLED, CANCELLABLE, now=now, cancelled_at=now)
    return _move_messages(session, campaign, UNSENT, Status.CANCELLED)


def _move_messages(session: Session, campaign: Campaign, from_statuses, to_status: Status) -> int:
    """Rows a worker has claimed are locked and no longer queued: they are left alone."""
    result = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.status.in_(from_statuses))
        .values(status=to_status)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _set_status(session: Session, campaign: Campaign, status: CampaignStatus, allowed, *, now: datetime, **values) -> None:
    """Move the campaign on only from an allowed status, checked in the UPDATE itself so two
    requests (or a request and the scheduler) never both succeed."""
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(allowed))
        .values(status=status, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(campaign)
        raise Conflict(f"the campaign is {campaign.status}; it cannot be {_VERBS[status]} now")
    session.refresh(campaign)


_VERBS = {
    CampaignStatus.DRAFT: "made a draft again",
    CampaignStatus.SENDING: "started or resumed",
    CampaignStatus.PAUSED: "paused",
    CampaignStatus.CANCELLED: "cancelled",
}


def _require(campaign: Campaign, allowed, action: str) -> None:
    if campaign.status not in allowed:
        raise Conflict(f"the campaign is {campaign.status}; only a {' or '.join(allowed)} campaign can {action}")


def _check_ready(campaign: Campaign) -> None:
    if campaign.segment_id is None:
        raise ValidationError(N_("choose who receives the campaign: a segment, or a filter"))
    if not campaign.text_en and not campaign.text_zh:
        raise ValidationError(N_("write the text of the campaign first"))


def sample_members(session: Session, condition, *, languages: tuple[str, ...], limit: int = SAMPLE_SIZE) -> list[Member]:
    """A few real members an audience would reach, for the preview; members of each language a
    campaign is written in, when it is written in both."""
    statement = select(Member).where(condition, segments.REACHABLE).order_by(Member.id).limit(limit)
    if len(languages) < 2:
        return list(session.scalars(statement))
    by_language = [list(session.scalars(statement.where(Member.language == language))) for language in languages]
    mixed = [member for pair in zip(*by_language) for member in pair]
    rest = [member for members in by_language for member in members[len(mixed) // 2:]]
    return (mixed + rest)[:limit]


def written_languages(campaign: Campaign) -> tuple[str, ...]:
    return tuple(language for language, text in ((Language.EN, campaign.text_en), (Language.ZH, campaign.text_zh)) if text)


def holdout_size(reachable: int, holdout_pct: int) -> int:
    """The holdout's size: the percentage of reachable members, rounded half up."""
    return (reachable * holdout_pct + 50) // 100


def send_test(session: Session, merchant: Merchant, campaign: Campaign, *, to_phone: str, now: datetime,
              member: Member | None = None) -> list[int]:
    """Queue the campaign's texts (one per language written), rendered for `member`, to the merchant's
    own phone, which becomes the merchant's test phone; their outbox ids. Tests skip quiet hours and caps."""
    phone = phones.normalise(to_phone, merchant.country)
    merchant.test_phone = phone
    queued = []
    for language in written_languages(campaign):
        body = campaign_texts.fill(
            campaign_texts.template_for(merchant, campaign, language),
            name=member.name if member else None, points=member.points_balance if member else 0,
            value_class=member.value_class if member else None, merchant_name=merchant_name(merchant, language),
            language=language,
        )
        queued.append(queue_text(
            session, merchant, to_phone=phone, body=body, category=Category.TRANSACTIONAL,
            purpose=TEST_PURPOSE, now=now,
        ))
    return queued


MAX_WEEKLY_CAP = 14
MAX_PRICE_PER_PART_MILLIS = 1_000_000


def update_settings(
    session: Session, merchant: Merchant, *, window_opens: time, window_closes: time, weekly_cap: int,
    price_per_part_millis: int, test_phone: str | None,
) -> None:
    """Change the merchant's campaign settings (see `smscrm.models.campaign.CampaignSettings`)."""
    if not window_opens < window_closes:
        raise ValidationError(
            N_("the sending window must open before it closes on the same day (for example 09:00 to 20:00)")
        )
    if not 1 <= weekly_cap <= MAX_WEEKLY_CAP:
        raise ValidationError(N_("the weekly cap is 1 to %(count)s texts"), count=MAX_WEEKLY_CAP)
    if not 0 <= price_per_part_millis <= MAX_PRICE_PER_PART_MILLIS:
        raise ValidationError(N_("the price per part is 0 to 1000 cents"))
    merchant.sending_window_opens, merchant.sending_window_closes = window_opens, window_closes
    merchant.weekly_marketing_cap = weekly_cap
    merchant.price_per_part_millis = price_per_part_millis
    merchant.test_phone = phones.normalise(test_phone, merchant.country) if test_phone else None
    session.flush()
