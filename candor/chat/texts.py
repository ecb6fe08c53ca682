"""What Candor says in chat by itself (binding, opt-out, preferences), per locale.

Unbound users get both languages: Candor does not know who they are yet.
"""

from __future__ import annotations

from candor.models.enums import Channel, Locale

CHANNEL_NAMES: dict[Locale, dict[Channel, str]] = {
    Locale.ZH_CN: {
        Channel.WECHAT: "微信",
        Channel.TELEGRAM: "Telegram",
        Channel.EMAIL: "邮件",
        Channel.WEB: "网页聊天",
        Channel.SMS: "短信",
    },
    Locale.EN: {
        Channel.WECHAT: "WeChat",
        Channel.TELEGRAM: "Telegram",
        Channel.EMAIL: "e-mail",
        Channel.WEB: "web chat",
        Channel.SMS: "SMS",
    },
}

_TEXTS: dict[str, dict[Locale, str]] = {
    "bind_instructions": {
        Locale.ZH_CN: (
            "您好！为保护您的隐私，请先绑定您的申请：打开面试邀请里的绑定链接（或扫描二维码）；"
            "或发送“绑定 申请编号 手机号或邮箱”（例如：绑定 AP-2026-000123 name@example.com），"
            "信息与登记的一致时，我们会把 6 位验证码发到您登记的邮箱。"
        ),
        Locale.EN: (
            "Hello! To protect your privacy, please link your application first: open the "
            "link (or scan the QR code) in your interview invitation, or send "
            '"bind <application code> <phone or e-mail>" (e.g. bind AP-2026-000123 '
            "name@example.com); if they match what you applied with, we will e-mail a "
            "6-digit code to the address you applied with."
        ),
    },
    "bind_needs_contact": {
        Locale.ZH_CN: (
            "请在申请编号后附上您投递时留的手机号或邮箱，例如：绑定 AP-2026-000123 "
            "name@example.com 或 绑定 AP-2026-000123 13800138000。"
        ),
        Locale.EN: (
            "Please add the phone number or e-mail you applied with after the application "
            "code, e.g. bind AP-2026-000123 name@example.com or bind AP-2026-000123 "
            "13800138000."
        ),
    },
    "bind_link_invalid": {
        Locale.ZH_CN: (
            "这个绑定链接无效或已过期。请使用最新的邀请链接，或发送“绑定 申请编号 手机号或邮箱”。"
        ),
        Locale.EN: (
            "This link is invalid or has expired. Use the latest invitation link, or send "
            '"bind <application code> <phone or e-mail>".'
        ),
    },
    "code_sent": {
        Locale.ZH_CN: (
            "如果申请编号与手机号或邮箱和我们登记的一致，我们已向登记的邮箱发送了 6 位验证码"
            "（10 分钟内有效）。请直接回复这 6 位数字。"
        ),
        Locale.EN: (
            "If the application code and the phone or e-mail match our records, we have "
            "e-mailed a 6-digit code to the registered address (valid for 10 minutes). "
            "Reply with the 6 digits."
        ),
    },
    "code_rejected": {
        Locale.ZH_CN: (
            "验证码不正确或已过期，或该申请因多次尝试失败已暂时锁定。请核对后再试，"
            "或使用邀请里的绑定链接。"
        ),
        Locale.EN: (
            "The code is wrong or has expired, or the application is locked for a while "
            "after too many tries. Please check and try again, or use the link in your "
            "invitation."
        ),
    },
    "slow_down": {
        Locale.ZH_CN: "您的请求太频繁了，请 {minutes} 分钟后再试。",
        Locale.EN: "That is too many requests in a short time; please try again in {minutes} min.",
    },
    "bound": {
        Locale.ZH_CN: (
            "绑定成功！您的申请 {code}（{job}）已与此账号关联。有任何问题都可以直接问我，"
            "例如“我的面试结果出来了吗？”。回复“退订”可停止在此渠道接收通知。"
        ),
        Locale.EN: (
            "You're linked! Application {code} ({job}) is now connected to this account. "
            'Ask me anything, e.g. "Is my interview result out?". Reply STOP to stop '
            "notifications on this channel."
        ),
    },
    "already_bound": {
        Locale.ZH_CN: "欢迎回来！此账号已绑定您的申请。有问题请直接发消息。",
        Locale.EN: "Welcome back! This account is already linked to your application.",
    },
    "opted_out": {
        Locale.ZH_CN: (
            "已退订：我们不会再通过{channel}主动给您发送通知，结果会通过您的其他联系方式送达。"
            "回复“订阅”可恢复。"
        ),
        Locale.EN: (
            "Unsubscribed: we will no longer send notifications on {channel}; results will "
            "reach you another way. Reply START to subscribe again."
        ),
    },
    "opted_in": {
        Locale.ZH_CN: "已恢复订阅：我们会继续通过{channel}给您发送通知。",
        Locale.EN: "Subscribed again: we will send notifications on {channel}.",
    },
    "unbound": {
        Locale.ZH_CN: "已解除绑定：此账号不再与您的申请关联。",
        Locale.EN: "Unlinked: this account is no longer connected to your application.",
    },
    "preference_saved": {
        Locale.ZH_CN: "好的，以后优先通过{channel}联系您。",
        Locale.EN: "Done: we will contact you on {channel} first from now on.",
    },
    "preference_no_email": {
        Locale.ZH_CN: "我们没有您的邮箱地址，暂时无法改为邮件。请联系 HR 更新邮箱。",
        Locale.EN: "We have no e-mail address for you yet; please ask HR to add one.",
    },
    "preference_no_mobile": {
        Locale.ZH_CN: "我们没有您可以接收短信的手机号，暂时无法改为短信。请联系 HR 更新手机号。",
        Locale.EN: (
            "We have no mobile number for you that can take texts; please ask HR to add one."
        ),
    },
    "preference_unbound_channel": {
        Locale.ZH_CN: (
            "好的，以后优先通过{channel}联系您。请先在{channel}中打开绑定链接完成绑定，"
            "在此之前我们会继续使用其他方式。"
        ),
        Locale.EN: (
            "Done: {channel} comes first from now on. Please link your {channel} account "
            "with your binding link; until then we will use your other channels."
        ),
    },
    "received": {
        Locale.ZH_CN: "收到您的消息，HR 会尽快回复您。",
        Locale.EN: "Thanks, we received your message. HR will follow up soon.",
    },
    "code_email_subject": {
        Locale.ZH_CN: "您的绑定验证码",
        Locale.EN: "Your linking code",
    },
    "code_email_body": {
        Locale.ZH_CN: (
            "您好，\n\n您（或他人）请求将一个{channel}账号绑定到您的申请 {code}。"
            "验证码：{otp}（10 分钟内有效）。\n\n如果不是您本人操作，请忽略本邮件，"
            "您的申请信息不会被透露。"
        ),
        Locale.EN: (
            "Hello,\n\nSomeone (probably you) asked to link a {channel} account to your "
            "application {code}. Your code: {otp} (valid for 10 minutes).\n\nIf this was "
            "not you, ignore this e-mail; nothing about your application is disclosed."
        ),
    },
}


def text(key: str, locale: Locale | None, *, channel: Channel | None = None, **values: str) -> str:
    """One locale's text, or both (Chinese first) when the locale is unknown."""
    languages = (locale,) if locale is not None else (Locale.ZH_CN, Locale.EN)
    parts = []
    for language in languages:
        named = {"channel": CHANNEL_NAMES[language][channel]} if channel is not None else {}
        parts.append(_TEXTS[key][language].format(**values, **named))
    return "\n\n".join(parts)
