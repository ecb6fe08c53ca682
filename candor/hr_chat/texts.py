"""What cards and chat answers say, in the HR user's language (hr_users.locale; NULL: zh-CN)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "draft_title": "待审批：{code}",
        "sla_title": "即将到期：{code}",
        "handoff_title": "对话转人工：{code}",
        "job": "职位",
        "due": "截止（北京时间）",
        "since": "时间（北京时间）",
        "outcome": "结果",
        "approve": "批准",
        "reject": "驳回",
        "open": "打开",
        "approved_by": "已由 {name} 批准",
        "rejected_by": "已由 {name} 驳回",
        "already": "此项已处理：{status}。未作任何更改。",
        "done_approved": "已批准，消息将发送给候选人。",
        "done_rejected": "已驳回。原因：{reason}",
        "reason_wanted": "请在 {minutes} 分钟内回复驳回原因（一条文字消息）。",
        "expired": "此卡片已过期，未作任何更改。请在控制台处理：{url}",
        "not_yours": "此卡片不属于您的账号，未作任何更改。",
        "unknown_card": "找不到此卡片，未作任何更改。",
        "out_of_scope": "您已无权处理此申请，未作任何更改。",
        "not_bound": "此账号尚未绑定 Candor。请在控制台“我的通知”中获取绑定码后发送给我。",
        "bound": "绑定成功：{name}。待审批的消息将发送到这里。",
        "bad_code": "绑定码无效、已过期或已使用，未绑定任何账号。请在控制台重新获取。",
        "taken": "此账号已绑定另一位 HR 用户，未作任何更改。",
        "help": "发送控制台中的绑定码以绑定；审批请点击卡片上的按钮。",
        "invalid": "无法处理：{problem}。未作任何更改。",
    },
    "en": {
        "draft_title": "Awaiting approval: {code}",
        "sla_title": "Due soon: {code}",
        "handoff_title": "Conversation handed to HR: {code}",
        "job": "Job",
        "due": "Due (Beijing time)",
        "since": "Since (Beijing time)",
        "outcome": "Outcome",
        "approve": "Approve",
        "reject": "Reject",
        "open": "Open",
        "approved_by": "Approved by {name}",
        "rejected_by": "Rejected by {name}",
        "already": "Already decided: {status}. Nothing was changed.",
        "done_approved": "Approved; the message will be sent to the candidate.",
        "done_rejected": "Rejected. Reason: {reason}",
        "reason_wanted": "Reply with the reason for rejecting within {minutes} minutes "
        "(one text message).",
        "expired": "This card has expired; nothing was changed. Please use the console: {url}",
        "not_yours": "This card belongs to another account; nothing was changed.",
        "unknown_card": "This card is unknown; nothing was changed.",
        "out_of_scope": "You may no longer handle this application; nothing was changed.",
        "not_bound": "This account is not bound to Candor. Get a code under 'My notifications' "
        "in the console and send it here.",
        "bound": "Bound: {name}. Drafts awaiting your approval will arrive here.",
        "bad_code": "That code is wrong, expired or already used; nothing was bound. Get a new "
        "one in the console.",
        "taken": "This account is bound to another HR user; nothing was changed.",
        "help": "Send the code from the console to bind; use the card's buttons to approve.",
        "invalid": "Cannot do that: {problem}. Nothing was changed.",
    },
}


def lang(locale: str | None) -> str:
    return "en" if (locale or "").lower().startswith("en") else "zh"


def text(locale: str | None, key: str, **values: object) -> str:
    return TEXTS[lang(locale)][key].format(**values)
