"""What the actions say, per locale. Response names that both engines render come from
domain.yml; these are the texts that carry ATS data."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

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


# Self-scheduling (actions/scheduling.py): booking, moving and cancelling the next interview.
_SCHEDULING_TEXTS: dict[str, tuple[str, str]] = {
    "change_by_button": (
        "希望改期或取消已约的面试",
        "would like to move or cancel the booked interview",
    ),
    "slots_offer": (
        "可以直接选一个「{job}」{kind}的时间（{zone}）：",
        'Pick a time for your {kind} for "{job}" ({zone}):',
    ),
    "slots_offer_more": ("还有这些时间（{zone}）：", "More times ({zone}):"),
    "slots_offer_move": (
        "可以改到下面这些时间（{zone}），选好后原来的时间会自动释放：",
        "You can move it to one of these times ({zone}); your current time is let go once "
        "you confirm:",
    ),
    "slots_no_fit": (
        "没有完全符合你要求的时间，这些是最近可选的：",
        "No free time matches exactly what you asked for; these are the soonest:",
    ),
    "slots_none_left": (
        "暂时没有更多可选的时间了。可以点“都不合适”告诉我你方便的时间，HR 会和你确认。",
        'There are no more free times right now. Tap "None of these work" and tell me when '
        "suits you; HR will confirm.",
    ),
    "slots_none": (
        "目前没有可以自助预约的空闲时间。告诉我你方便的时间，HR 会尽快和你确认。",
        "There is no free time to book right now. Tell me when suits you and HR will "
        "confirm a time with you.",
    ),
    "slot_more": ("更多时间", "More times"),
    "slot_none_fit": ("都不合适", "None of these work"),
    "video": ("视频面试", "video"),
    "slot_held": (
        "已为你保留 {when}（{place}），{minutes} 分钟内有效。确认预约吗？",
        "{when} ({place}) is held for you for {minutes} minutes. Shall I book it?",
    ),
    "slot_confirm": ("确认预约", "Book it"),
    "slot_other_times": ("换个时间", "Other times"),
    "booking_confirmed": (
        "预约成功 ✅ 「{job}」{kind}：{when}",
        'Booked ✅ Your {kind} for "{job}": {when}',
    ),
    "booking_moved": (
        "已改期 ✅ 「{job}」{kind}的新时间：{when}",
        'Moved ✅ Your {kind} for "{job}" is now at {when}',
    ),
    "booking_place": ("地点：{place}", "Place: {place}"),
    "booking_video": ("视频链接：{link}", "Video link: {link}"),
    "booking_interviewers": ("面试官：{names}", "Interviewers: {names}"),
    "booking_preparation": ("请准备：{text}", "Please prepare: {text}"),
    "booking_calendar": ("加入日历：{url}", "Add to your calendar: {url}"),
    "booking_change_hint": (
        "如需改期或取消，直接告诉我即可（面试前 {hours} 小时内请联系 HR）。",
        "To move or cancel it, just tell me (within {hours} hours of the interview, HR "
        "handles changes).",
    ),
    "booking_already": (
        "这个时间已经约好了：{when}，不用重复确认。",
        "You are already booked for {when}; no need to confirm again.",
    ),
    "slot_taken": (
        "抱歉，这个时间刚刚被别人约走了。",
        "Sorry, that time has just been taken.",
    ),
    "slot_too_soon": (
        "这个时间已经过去或离现在太近，无法预约。",
        "That time has passed or is too soon to book.",
    ),
    "slot_gone": ("这个时间已经不能预约了。", "That time can no longer be booked."),
    "hold_lapsed": (
        "为你保留的时间已经失效了，请重新选一个。",
        "The time held for you has lapsed; please pick one again.",
    ),
    "booking_not_found": (
        "没有找到这个预约。可以问我“下一步安排”查看你的面试。",
        'I could not find that booking. Ask me "what\'s next?" to see your interview.',
    ),
    "booking_cancel_ask": (
        "确定要取消 {when} 的面试吗？取消后可以稍后再约其他时间。",
        "Do you want to cancel your interview at {when}? You can book another time later.",
    ),
    "booking_cancel_yes": ("确定取消", "Yes, cancel it"),
    "booking_cancel_move": ("改个时间", "Move it instead"),
    "booking_cancel_keep": ("保留面试", "Keep it"),
    "booking_cancelled": (
        "已取消 {when} 的面试，HR 也会收到通知。想再约时间时告诉我即可。",
        "Your interview at {when} is cancelled, and HR has been told. Tell me whenever "
        "you would like to book another time.",
    ),
    "booking_already_cancelled": (
        "这场面试已经取消了。",
        "That interview is already cancelled.",
    ),
    "book_again": ("重新预约", "Book another time"),
    "change_past_policy": (
        "离面试时间太近（或改期次数已满），无法在这里直接修改。",
        "It is too close to the interview (or it was moved as often as allowed) to change it here.",
    ),
    "proposal_logged": (
        "收到，你方便的时间：“{request}”。已转给 HR，确认后会通知你。",
        'Got it: "{request}". I passed it to HR, who will confirm a time with you.',
    ),
    "nothing_to_cancel": (
        "你目前没有已预约的面试需要取消。",
        "You have no booked interview to cancel.",
    ),
}
_TEXTS.update(_SCHEDULING_TEXTS)


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


def zone_label(zone: ZoneInfo, locale: Locale) -> str:
    if zone.key == BUSINESS_TZ.key:
        return "北京时间" if locale is Locale.ZH_CN else "China time"
    return f"{zone.key} 时间" if locale is Locale.ZH_CN else f"{zone.key} time"


def moment(value: datetime, locale: Locale, zone: ZoneInfo = BUSINESS_TZ) -> str:
    """A moment as the candidate reads it: in their zone, named when it is not China's."""
    local = value.astimezone(zone)
    said = f"{day(local.date(), locale)} {local:%H:%M}"
    return said if zone.key == BUSINESS_TZ.key else f"{said} ({zone_label(zone, locale)})"


def joined(items: list[str], locale: Locale) -> str:
    return ("; " if locale is Locale.EN else "；").join(items)
