"""The texts a shopper reads, in English and Chinese; a merchant may override any of them.

Chinese texts start with the merchant's 【signature】. Every text that invites further
messages carries the opt-out instruction, which for Chinese is merchant-configurable.
"""
from __future__ import annotations

from typing import Protocol

from smscrm.models import Language


class Sender(Protocol):
    """What wording a text needs of its merchant: a `Merchant`, or the webhook's `arrival.Shop`."""

    name: str
    name_zh: str | None
    signature: str
    default_language: str
    texts: dict


_LANGUAGES = {language.value: language for language in Language}  # "en" -> Language.EN
OPT_OUT_INSTRUCTION = {Language.EN: "Reply STOP to opt out.", Language.ZH: "回复TD退订"}

DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "welcome": {
        Language.EN: "Welcome to {merchant}{name_suffix}! Your phone number is your card. "
        "Text BAL for points, HELP for help. {opt_out}",
        Language.ZH: "欢迎加入{merchant}会员{name_suffix}！手机号即会员卡，发“帮助”了解更多。{opt_out}",
    },
    "welcome_points": {
        Language.EN: "Welcome to {merchant}{name_suffix}! You are now a member with {points} points. "
        "Text BAL for your points, HELP for help. {opt_out}",
        Language.ZH: "欢迎加入{merchant}会员{name_suffix}！您已有{points}积分，发“帮助”获取帮助。{opt_out}",
    },
    "already_member": {
        Language.EN: "You are already a member of {merchant}. Text BAL for your points, HELP for help. {opt_out}",
        Language.ZH: "您已是{merchant}会员。发送“积分”查询积分，发送“帮助”获取帮助。{opt_out}",
    },
    "opted_out": {
        Language.EN: "You have been unsubscribed from {merchant} and will get no more texts. Reply START to resubscribe.",
        Language.ZH: "您已退订{merchant}的短信，将不再收到消息。回复“订阅”可重新订阅。",
    },
    "opted_in": {
        Language.EN: "You are subscribed to {merchant} again: you will get our texts again. {opt_out}",
        Language.ZH: "您已重新订阅{merchant}的短信，将再次收到我们的消息。{opt_out}",
    },
    "help": {
        Language.EN: "{merchant}: text JOIN to join, BAL for points, REDEEM for rewards, REFER <phone> to invite, "
        "BDAY MM-DD, LIKE <topic>. {opt_out}",
        Language.ZH: "发送：入会 加入，积分 查询，兑换 礼品，推荐 手机号 邀好友，生日 3月8日，兴趣 绿茶。{opt_out}",
    },
    "balance": {
        Language.EN: "{merchant}: you have {points} points.",
        Language.ZH: "您在{merchant}的积分为{points}分。",
    },
    "birthday_saved": {
        Language.EN: "Thanks! We will remember your birthday on {birthday}.",
        Language.ZH: "谢谢！我们记住了您的生日：{birthday}。",
    },
    "birthday_invalid": {
        Language.EN: "Please send a real date as your birthday, for example BDAY 03-08, BDAY March 8 or "
        "BDAY 1990-03-08.",
        Language.ZH: "请发送真实的生日日期，例如：生日 3月8日 或 生日 1990年3月8日。",
    },
    "interest_saved": {
        Language.EN: "Noted: you like {topic}. We will keep you posted.",
        Language.ZH: "已记录您的兴趣：{topic}。",
    },
    "interest_invalid": {
        Language.EN: "Tell us what you like, for example LIKE green tea.",
        Language.ZH: "请告诉我们您的兴趣，例如：兴趣 绿茶。",
    },
    "feedback_ack": {
        Language.EN: "Thanks for your message, {merchant} will get back to you.",
        Language.ZH: "感谢您的留言，{merchant}会尽快回复您。",
    },
    "join_hint": {
        Language.EN: "Text JOIN to become a member of {merchant} and earn points on every visit.",
        Language.ZH: "发送“入会”即可成为{merchant}会员，每次消费均可积分。",
    },
    "import_invitation": {  # once to each pending member of a member file (smscrm.loyalty.imports)
        Language.EN: "{merchant} invites you to its members club: reply JOIN to join and earn points on every "
        "visit. {opt_out}",
        Language.ZH: "{merchant}邀请您加入会员：回复“入会”即可加入，每次消费均可积分。{opt_out}",
    },
    # points texts (smscrm.points, smscrm.loyalty.rewards, smscrm.loyalty.referrals)
    "purchase_receipt": {
        Language.EN: "Thanks for visiting {merchant}! +{points} points, you now have {balance} points.",
        Language.ZH: "感谢光临{merchant}！本次获得{points}积分，当前共{balance}积分。",
    },
    "purchase_receipt_bonus": {  # a referred member's first purchase: the referral bonus with it
        Language.EN: "Thanks for visiting {merchant}! +{points} points and a {bonus}-point friend bonus: "
        "you now have {balance} points.",
        Language.ZH: "感谢光临{merchant}！本次获得{points}积分，另得好友奖励{bonus}积分，当前共{balance}积分。",
    },
    "purchase_invite": {
        Language.EN: "Thanks for visiting {merchant}! {points} points are waiting for you: reply JOIN to become "
        "a member and collect them. {opt_out}",
        Language.ZH: "感谢光临{merchant}！您有{points}积分待领取，回复“入会”成为会员即可领取。{opt_out}",
    },
    "redeem_catalog": {
        Language.EN: "Rewards (points): {catalog}. Text REDEEM and a code, e.g. REDEEM {example}. "
        "You have {balance} points.",
        Language.ZH: "礼品（积分）：{catalog}。发“兑换 {example}”即可兑换，您有{balance}积分。",
    },
    "redeem_no_rewards": {
        Language.EN: "{merchant} has no rewards to redeem right now.",
        Language.ZH: "{merchant}暂无可兑换的礼品。",
    },
    "redeem_unknown": {
        Language.EN: "There is no reward {code}. Rewards (points): {catalog}.",
        Language.ZH: "没有代码为{code}的礼品。可兑换礼品（所需积分）：{catalog}。",
    },
    "redeem_insufficient": {
        Language.EN: "{reward} needs {cost} points and you have {balance}. Keep collecting!",
        Language.ZH: "兑换{reward}需要{cost}积分，您目前有{balance}积分。",
    },
    "redeem_unavailable": {
        Language.EN: "Sorry, {reward} is not available right now.",
        Language.ZH: "抱歉，{reward}暂时无法兑换。",
    },
    "redemption_code": {
        Language.EN: "Your code for {reward} is {code}: show it at {merchant} by {expires}. "
        "{cost} points set aside, {balance} left.",
        Language.ZH: "{reward}兑换码{code}，{expires}前到店出示。已预留{cost}积分，余{balance}。",
    },
    "refer_sent": {
        Language.EN: "Thanks! We invited {phone}. When they join and make a first purchase, you both get "
        "{bonus} points.",
        Language.ZH: "谢谢推荐！我们已邀请{phone}。对方入会并首次消费后，您和对方各得{bonus}积分。",
    },
    "refer_sent_no_bonus": {
        Language.EN: "Thanks! We invited {phone} to join {merchant}.",
        Language.ZH: "谢谢推荐！我们已邀请{phone}加入{merchant}会员。",
    },
    "refer_not_sent": {
        Language.EN: "Thanks! We cannot send an invitation to {phone}, but your friend can text JOIN {code} "
        "to {number}.",
        Language.ZH: "谢谢推荐！无法邀请{phone}，请好友发“入会 {code}”到{number}。",
    },
    "refer_usage": {
        Language.EN: "Invite a friend: text REFER and their phone number, e.g. REFER 415 555 0123. Or share your "
        "code {code}: friends text JOIN {code} to {number}.",
        Language.ZH: "邀请好友：发“推荐 好友手机号”，或请好友发“入会 {code}”到{number}。",
    },
    "refer_invalid": {
        Language.EN: "{phone} is not a number we can text. Text REFER and your friend's mobile number, "
        "e.g. REFER 415 555 0123.",
        Language.ZH: "{phone}不是可以接收短信的号码，请发送“推荐 好友手机号”。",
    },
    "refer_self": {
        Language.EN: "That is your own number. Text REFER and a friend's phone number.",
        Language.ZH: "这是您自己的号码，请发送“推荐 好友手机号”。",
    },
    "refer_limit": {
        Language.EN: "You have sent {limit} invitations today; please try again tomorrow.",
        Language.ZH: "您今天已发送{limit}条邀请，请明天再试。",
    },
    "refer_invitation": {
        Language.EN: "{friend} (phone ending {last4}) invites you to {merchant}: reply JOIN {code} "
        "to earn points on every visit. {opt_out}",
        Language.ZH: "好友{friend}（尾号{last4}）邀您加入{merchant}，回复“入会 {code}”即可。{opt_out}",
    },
    "refer_invitation_unnamed": {
        Language.EN: "A friend with the phone ending {last4} invites you to {merchant}: reply JOIN {code} "
        "to earn points on every visit. {opt_out}",
        Language.ZH: "尾号{last4}的好友邀您加入{merchant}会员，回复“入会 {code}”即可。{opt_out}",
    },
    "referral_rewarded": {
        Language.EN: "A friend you invited made their first purchase at {merchant}: +{points} bonus points, "
        "you now have {balance} points.",
        Language.ZH: "您邀请的好友已在{merchant}首次消费，您获得{points}积分奖励，当前共{balance}积分。",
    },
    # care texts (smscrm.care): {name}, {points}, {class} and {expiring} are filled per member
    "care_welcome": {
        Language.EN: "Good to have you with us, {name}! Give your phone number at the counter of {merchant} "
        "and every visit earns points.",
        Language.ZH: "{name}您好，欢迎成为{merchant}会员！到店消费时报手机号即可积分。",
    },
    "care_welcome_follow_up": {
        Language.EN: "{name}, we have not seen you at {merchant} yet. Drop by: your first visit already earns points!",
        Language.ZH: "{name}您好，还没见到您光临{merchant}呢，首次到店消费即可积分，期待您的光临！",
    },
    "care_birthday": {
        Language.EN: "Happy birthday, {name}! Everyone at {merchant} wishes you a wonderful day.",
        Language.ZH: "亲爱的{name}，{merchant}全体员工祝您生日快乐！",
    },
    "care_anniversary": {
        Language.EN: "Happy membership anniversary, {name}! Thank you for another year with {merchant}.",
        Language.ZH: "亲爱的{name}，今天是您加入{merchant}会员的纪念日，感谢一路相伴！",
    },
    "care_holiday": {
        Language.EN: "Happy {holiday} from all of us at {merchant}!",
        Language.ZH: "{merchant}祝您{holiday}快乐！",
    },
    "care_after_visit": {
        Language.EN: "Thank you for visiting {merchant}! How was your visit? Reply 1-5 (5 = excellent).",
        Language.ZH: "感谢您光临{merchant}！请回复1-5评价本次服务（5为非常满意）。",
    },
    "care_win_back": {
        Language.EN: "We miss you at {merchant}, {name}! Come by soon: your {points} points are waiting.",
        Language.ZH: "亲爱的{name}，{merchant}想念您了！您还有{points}积分等您使用。",
    },
    "care_points_expiring": {
        Language.EN: "{name}, {expiring} of your points at {merchant} expire on {date}. Come by and use them!",
        Language.ZH: "亲爱的{name}，您在{merchant}的{expiring}积分将于{date}到期，欢迎到店使用。",
    },
    "care_class_upgrade": {
        Language.EN: "Congratulations, {name}! You are now a class {class} member of {merchant}.",
        Language.ZH: "恭喜{name}！您已升级为{merchant}{class}类会员。",
    },
    "care_bonus": {
        Language.EN: "{bonus} bonus points are on your card.",
        Language.ZH: "已为您赠送{bonus}积分。",
    },
    "rating_thanks": {
        Language.EN: "Thank you for rating your visit to {merchant}!",
        Language.ZH: "感谢您对{merchant}的评价！",
    },
    "rating_sorry": {
        Language.EN: "We are sorry your visit was not what it should be. Someone from {merchant} will get in touch.",
        Language.ZH: "很抱歉本次服务未能让您满意，{merchant}会尽快与您联系。",
    },
}


def render(merchant: Sender, key: str, language: str, *, template: str | None = None, **values) -> str:
    """The text `key` in `language`, with the merchant's override if it has one.

    `template` is wording chosen for this one use (a care rule's own text); it wins over both.
    """
    lang = _LANGUAGES.get(language) or Language(merchant.default_language)
    template = template or (merchant.texts or {}).get(key, {}).get(lang) or DEFAULT_TEXTS[key][lang]
    values.setdefault("merchant", merchant_name(merchant, lang))
    values.setdefault("opt_out", opt_out_instruction(merchant, lang))
    body = template.format_map(_KeepUnknown(values)).strip()
    return with_signature(merchant, body, lang)


class _KeepUnknown(dict):
    """A merchant's template may name a placeholder we do not fill: show it as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def merchant_name(merchant: Sender, language: str) -> str:
    """The merchant's name as `{merchant}` in a text: its Chinese name in Chinese texts, when it has one."""
    return (merchant.name_zh if language == Language.ZH else None) or merchant.name


def opt_out_instruction(merchant: Sender, language: str) -> str:
    custom = (merchant.texts or {}).get("opt_out", {}).get(language)
    return custom or OPT_OUT_INSTRUCTION[Language(language)]


def with_signature(merchant: Sender, body: str, language: str) -> str:
    """Chinese texts begin with 【signature】, as carriers in China require."""
    if language == Language.ZH and not body.startswith("【"):
        return f"【{merchant.signature}】{body}"
    return body
