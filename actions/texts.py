"""What the actions say, per locale. Response names that both engines render come from
domain.yml; these are the texts that carry ATS data."""

from __future__ import annotations

from datetime import date, datetime

from candor.clock import BUSINESS_TZ
from candor.models.enums import ApplicationStatus, Locale, Stage

ZH, EN = Locale.ZH_CN, Locale.EN

STAGES: dict[Stage, tuple[str, str]] = {
    Stage.APPLIED: ("简历筛选", "application review"),
    Stage.AI_INTERVIEW: ("AI 视频面试", "AI video interview"),
    Stage.PHONE_INTERVIEW: ("电话面试", "phone interview"),
    Stage.ONSITE_INTERVIEW: ("现场面试", "on-site interview"),
    Stage.OFFER: ("Offer", "offer"),
    Stage.HIRED: ("已入职", "hired"),
}
STATUSES: dict[ApplicationStatus, tuple[str, str]] = {
    ApplicationStatus.ACTIVE: ("进行中", "in progress"),
    ApplicationStatus.ON_HOLD: ("待定", "on hold"),
    ApplicationStatus.REJECTED: ("未通过", "not moving forward"),
    ApplicationStatus.WITHDRAWN: ("已撤回", "withdrawn"),
    ApplicationStatus.HIRED: ("已录用", "hired"),
}
EVENTS: dict[str, tuple[str, str]] = {
    "applied": ("我们收到了你的申请", "we received your application"),
    "interview_completed": ("你完成了面试", "you completed your interview"),
    "interview_scheduled": ("面试已经安排好", "your interview was scheduled"),
    "result_sent": ("面试结果已发给你", "we sent you the result"),
    "reschedule_follow_up": (
        "已补充到你之前的改期需求里：“{request}”。HR 会一并确认，在确认之前原时间仍然有效。",
        'I added this to your earlier reschedule request: "{request}". HR will confirm both '
        "together; until then the original time stands.",
    ),
    "withdrawn": ("申请已撤回", "the application was withdrawn"),
}
# How the clarifying question names an intent; an intent missing here is shown by name.
INTENT_LABELS: dict[str, tuple[str, str]] = {
    "ask_progress": ("查询申请进度", "Check my application status"),
    "ask_feedback": ("了解面试反馈", "Feedback on my interview"),
    "ask_next_step": ("下一步安排", "Next steps"),
    "reschedule": ("改约面试时间", "Change my interview time"),
    "withdraw": ("撤回申请", "Withdraw my application"),
    "bind_identity": ("绑定申请", "Link my application"),
    "opt_out": ("不再接收通知", "Stop notifications"),
    "request_data_deletion": ("删除我的个人信息", "Delete my personal data"),
    "join_talent_pool": ("加入人才库", "Join the talent pool"),
    "human_handoff": ("联系 HR", "Talk to HR"),
    "rate_experience": ("评价体验", "Rate my experience"),
    "ask_job_info": ("职位信息", "About the job"),
    "complain": ("投诉与建议", "Make a complaint"),
    "request_data_export": ("导出我的数据", "Export my data"),
    "greet": ("打个招呼", "Say hello"),
    "goodbye": ("结束对话", "Goodbye"),
    "thank": ("表示感谢", "Say thanks"),
    "affirm": ("是的", "Yes"),
    "deny": ("不是", "No"),
    "bot_challenge": ("确认是不是机器人", "Am I talking to a bot?"),
    "out_of_scope": ("其他问题", "Something else"),
}

_TEXTS: dict[str, tuple[str, str]] = {
    "not_bound": (
        "请先绑定你的申请，我才能查询：发送“绑定 申请编号 手机号或邮箱”"
        "（例如：绑定 AP-2026-000123 name@example.com）。",
        'Please link your application first: send "bind <application code> <phone or '
        'e-mail>" (e.g. bind AP-2026-000123 name@example.com).',
    ),
    "no_application": ("我没有找到你的申请记录。", "I could not find an application of yours."),
    "not_yours": (
        "在你绑定的申请中没有找到这个编号，请核对后再试。",
        "That code is not among your applications; please check it.",
    ),
    "which_application": (
        "你有多个申请，想问哪一个？",
        "You have several applications. Which one?",
    ),
    "progress": (
        "你申请的「{job}」（{code}）目前处于：{stage}。最近进展：{event}（{when}）。",
        'Your application for "{job}" ({code}) is at: {stage}. Latest: {event} ({when}).',
    ),
    "progress_status": ("申请状态：{status}。", "Status: {status}."),
    "expected_by": (
        "按照我们的承诺，你最晚会在 {date} 前收到结果。",
        "As promised, you will hear from us by {date} at the latest.",
    ),
    "scheduled_at": ("面试时间：{when}。", "Interview time: {when}."),
    "notify_offer": (
        "\n想在结果出来时第一时间收到微信通知？点此授权一次：{link}",
        "\nWant a WeChat notification the moment your result is out? Allow it once here: {link}",
    ),
    "no_feedback_yet": (
        "你的面试结果还在评估中，暂时没有反馈可以说明。{expected}",
        "Your result is still being reviewed, so there is no feedback yet. {expected}",
    ),
    "feedback": (
        "关于「{job}」的面试反馈（{date} 发出）：",
        'About your interview for "{job}" (feedback sent on {date}):',
    ),
    "feedback_summary": ("总体评价：{text}", "Overall: {text}"),
    "feedback_strengths": ("表现好的地方：{items}", "Strengths: {items}"),
    "feedback_improvements": ("可以提升的地方：{items}", "To improve: {items}"),
    "feedback_message": ("我们发给你的结果通知：\n{body}", "The result we sent you:\n{body}"),
    "next_step": ("下一步：{text}", "Next step: {text}"),
    "next_interview": (
        "你的下一轮{kind}安排在 {when}。",
        "Your next {kind} is scheduled for {when}.",
    ),
    "no_next_step": (
        "目前还没有新的安排，有进展我们会第一时间通知你。",
        "Nothing new is scheduled yet; we will tell you as soon as there is.",
    ),
    "reschedule_logged": (
        "已把你的改期需求转给 HR：“{request}”。"
        "HR 会尽快和你确认新的时间，在确认之前原时间仍然有效。",
        'I passed your request to HR: "{request}". HR will confirm a new time with you; '
        "until then the original time stands.",
    ),
    "reschedule_follow_up": (
        "已补充到你之前的改期需求里：“{request}”。HR 会一并确认，在确认之前原时间仍然有效。",
        'I added this to your earlier reschedule request: "{request}". HR will confirm both '
        "together; until then the original time stands.",
    ),
    "next_round_confirmed": (
        "收到 ✅ 已为你确认「{job}」的下一轮，HR 会尽快发来具体时间和安排。",
        'Thanks ✅ You are confirmed for the next round of "{job}"; HR will send you the '
        "time and details shortly.",
    ),
    "acknowledged": ("好的～还有什么可以帮你的吗？", "OK! Anything else I can help with?"),
    "withdrawn": (
        "已撤回你对「{job}」的申请，HR 也已收到通知。祝你一切顺利！",
        'Your application for "{job}" is withdrawn, and HR has been told. All the best!',
    ),
    "already_withdrawn": ("这个申请已经撤回了。", "That application is already withdrawn."),
    "opt_out_which": (
        "好的。你是想只在这里不再收到通知，还是所有渠道（微信、邮件等）都不再主动给你发消息？"
        "都停掉后，你仍然可以随时在这里问结果。",
        "Sure. Stop notifications only here, or every proactive message on all channels "
        "(WeChat, e-mail ...)? Either way you can still ask me about your results here.",
    ),
    "opt_out_this_channel": ("只停这个渠道", "Only this channel"),
    "opt_out_everything": ("所有渠道都停", "All channels"),
    "opted_out_all": (
        "已为你停止所有主动通知，任何渠道都不会再主动给你发消息。面试结果出来后，你随时可以在这里问我。"
        "回复“订阅”可恢复。",
        "Done: we will not send you proactive messages on any channel. You can still ask me "
        "about your result here at any time. Reply START to resume.",
    ),
    "deletion_confirm": (
        "确定要删除我们保存的你的个人信息吗？包括联系方式、申请和面试记录、聊天记录。"
        "确认后有 {days} 天的冷静期，期间可以随时取消；之后将彻底删除，无法恢复。"
        "请在 {minutes} 分钟内回复“确认”或“取消”。",
        "Do you want us to delete the personal data we hold about you: your contact details, "
        "applications, interview records and chat history? After you confirm there are {days} "
        "days to change your mind; then it is erased for good. Reply yes or no within "
        "{minutes} minutes.",
    ),
    "deletion_yes": ("确认删除", "Yes, delete"),
    "deletion_no": ("先不删除", "No, keep it"),
    "deletion_opened": (
        "已收到你的删除申请。{date}之后我们将删除你的个人信息，在此之前回复“删除我的数据”可以取消。",
        "Your deletion request is in. Your personal data will be erased after {date}; until "
        'then, say "delete my data" again to cancel it.',
    ),
    "deletion_declined": ("好的，不删除，你的信息保持不变。", "OK, nothing is deleted."),
    "deletion_expired": (
        "这个删除申请已过确认时限，没有生效。如仍需删除，请重新发送“删除我的数据”。",
        "That deletion request expired before it was confirmed, so nothing changed. Say "
        '"delete my data" again if you still want it.',
    ),
    "deletion_open": (
        "你已经申请删除个人信息，将在{date}之后删除。要取消这个申请吗？",
        "You have already asked for your data to be deleted; it will be erased after {date}. "
        "Do you want to cancel that request?",
    ),
    "deletion_cancel_yes": ("取消删除申请", "Cancel the deletion"),
    "deletion_cancel_no": ("保留申请", "Keep the request"),
    "deletion_cancelled": (
        "已取消删除申请，你的信息保持不变。",
        "Your deletion request is cancelled.",
    ),
    "deletion_not_confirmed": (
        "你的删除申请尚未确认。如仍需删除个人信息，请再次发送“删除我的数据”。",
        'Your deletion request is not confirmed. Say "delete my data" again if you still want it.',
    ),
    "deletion_kept": ("好的，删除申请保持不变。", "OK, your deletion request stands."),
    "deletion_started": (
        "你的个人信息正在删除中，很快就会完成。",
        "Your personal data is being erased right now.",
    ),
    "deletion_nothing_open": (
        "你目前没有待确认的删除申请。如需删除个人信息，请发送“删除我的数据”。",
        'You have no deletion request waiting. Say "delete my data" to ask for one.',
    ),
    "talent_pool_joined": (
        "已把你加入人才库 ✅ 有合适的岗位时我们会第一时间联系你。",
        "You're in our talent pool ✅ We'll contact you first when a suitable role opens.",
    ),
    "talent_pool_already": (
        "你已经在我们的人才库里了，有合适的岗位会第一时间联系你。",
        "You're already in our talent pool; we'll contact you when a suitable role opens.",
    ),
    "handoff": (
        "已为你转接 HR 同事，他们会在工作时间尽快回复你。在此期间我先不自动回复了。",
        "I've passed this conversation to an HR colleague, who will reply during working "
        "hours. I'll stay quiet until then.",
    ),
    "clarify": ("我不太确定你的意思，你是想：", "I'm not sure what you mean. Did you want to:"),
    "data_export_ready": (
        "这是你的个人数据副本（JSON 格式：资料、申请、发给你的结果、聊天记录、同意记录和评分）。"
        "下载链接 {hours} 小时内有效，只能下载一次，请不要转发给他人：\n{url}",
        "Here is a copy of your personal data (JSON: profile, applications, the results we "
        "sent you, messages, consents and ratings). The link works once, for {hours} hours; "
        "please do not forward it:\n{url}",
    ),
    "data_export_limit": (
        "你在 24 小时内已经申请了 {count} 次数据副本，请稍后再试；如有急需，可以回复“转人工”。",
        "You have asked for {count} copies in the last 24 hours; please try again later, or "
        'say "talk to HR" if it is urgent.',
    ),
    "job_answer": ("{answer}", "{answer}"),
    "job_question_queued": (
        "这个问题我需要请 HR 确认后再回复你，预计 {date} 前答复。",
        "I need HR to confirm this answer; expect it by {date}.",
    ),
    "rating_thanks": (
        "谢谢你的评分（{rating} 分）！我们会继续改进。",
        "Thank you for rating us {rating}/5! We'll keep improving.",
    ),
    "bind_needs_contact": (
        "请发送投递时留的手机号或邮箱（可以附上申请编号），信息一致时我们会发验证码到登记的邮箱。",
        "Please send the phone number or e-mail you applied with (with the application code "
        "if you like); if it matches, we will e-mail a code to the address on file.",
    ),
    "bind_slow_down": (
        "请求太频繁了，请 {minutes} 分钟后再试。",
        "That is too many requests in a short time; please try again in {minutes} min.",
    ),
    "bind_code_wrong": (
        "验证码不正确或已过期，请重新输入，或重新发送申请编号获取新验证码。",
        "That code is wrong or expired. Try again, or send your application code for a new one.",
    ),
}


def say(key: str, locale: Locale, **values: object) -> str:
    zh, en = _TEXTS[key]
    return (en if locale is Locale.EN else zh).format(**values)


def label(table: dict[object, tuple[str, str]], key: object, locale: Locale) -> str:
    zh, en = table[key]
    return en if locale is Locale.EN else zh


def intent_label(intent: str, locale: Locale) -> str:
    labels = INTENT_LABELS.get(intent)
    if labels is None:
        return intent
    return labels[1] if locale is Locale.EN else labels[0]


def day(value: date, locale: Locale) -> str:
    if locale is Locale.EN:
        return value.strftime("%a %d %b %Y")
    weekday = "一二三四五六日"[value.weekday()]
    return f"{value.year}年{value.month}月{value.day}日（周{weekday}）"


def local_day(value: datetime, locale: Locale) -> str:
    """The day a moment falls on in China: a UTC date is a day early before 08:00."""
    return day(value.astimezone(BUSINESS_TZ).date(), locale)


def moment(value: datetime, locale: Locale) -> str:
    local = value.astimezone(BUSINESS_TZ)
    return f"{day(local.date(), locale)} {local:%H:%M}"


def joined(items: list[str], locale: Locale) -> str:
    return ("; " if locale is Locale.EN else "；").join(items)
