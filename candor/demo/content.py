"""What the demo company is made of: teams, people, jobs and the words in interview reports.

Kept apart from the seeding logic so that editing the demo's copy never touches its rules.
Reports are written as an AI-interview vendor or an interviewer would write them: specific,
constructive, in the candidate's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from candor.ats.schemas import JobRef
from candor.models.enums import Channel, Decision, InterviewKind, Locale, Role

HR_DOMAIN = "candor-demo.example.com"

Family = Literal["eng", "product", "sales"]


@dataclass(frozen=True, slots=True)
class DemoTeam:
    external_id: str
    name: str
    family: Family


@dataclass(frozen=True, slots=True)
class DemoUser:
    email: str
    display_name: str
    role: Role
    team_external_id: str | None


@dataclass(frozen=True, slots=True)
class DemoJob:
    external_id: str
    title: str
    team_external_id: str
    location: str
    recruiter_email: str
    english: bool
    weight: int

    def ref(self) -> JobRef:
        return JobRef(
            external_id=self.external_id,
            title=self.title,
            team_external_id=self.team_external_id,
            location=self.location,
            recruiter_email=self.recruiter_email,
        )

    def short_ref(self) -> JobRef:
        """How application events name the job once it exists, as many ATS payloads do.

        Leaving out the recruiter also saves a lookup per application, which keeps seeding fast.
        """
        return JobRef(
            external_id=self.external_id, title=self.title, team_external_id=self.team_external_id
        )


TEAMS: tuple[DemoTeam, ...] = (
    DemoTeam("demo-eng", "技术研发部 / Engineering", "eng"),
    DemoTeam("demo-product", "产品与设计部 / Product & Design", "product"),
    DemoTeam("demo-sales", "销售与市场部 / Sales & Marketing", "sales"),
)
TEAM_BY_ID = {team.external_id: team for team in TEAMS}

HR_USERS: tuple[DemoUser, ...] = (
    DemoUser(f"admin@{HR_DOMAIN}", "周敏", Role.ADMIN, None),
    DemoUser(f"chen.zhiqiang@{HR_DOMAIN}", "陈志强", Role.TEAM_LEAD, "demo-eng"),
    DemoUser(f"li.ting@{HR_DOMAIN}", "李婷", Role.RECRUITER, "demo-eng"),
    DemoUser(f"wang.hao@{HR_DOMAIN}", "王浩", Role.RECRUITER, "demo-eng"),
    DemoUser(f"liu.yang@{HR_DOMAIN}", "刘洋", Role.TEAM_LEAD, "demo-product"),
    DemoUser(f"zhao.xue@{HR_DOMAIN}", "赵雪", Role.RECRUITER, "demo-product"),
    DemoUser(f"sun.yue@{HR_DOMAIN}", "孙悦", Role.RECRUITER, "demo-product"),
    DemoUser(f"huang.lei@{HR_DOMAIN}", "黄磊", Role.TEAM_LEAD, "demo-sales"),
    DemoUser(f"wu.qian@{HR_DOMAIN}", "吴倩", Role.RECRUITER, "demo-sales"),
    DemoUser(f"zheng.kai@{HR_DOMAIN}", "郑凯", Role.RECRUITER, "demo-sales"),
)

JOBS: tuple[DemoJob, ...] = (
    DemoJob(
        "demo-job-backend",
        "后端开发工程师（Go）",
        "demo-eng",
        "北京·海淀区",
        f"li.ting@{HR_DOMAIN}",
        english=False,
        weight=14,
    ),
    DemoJob(
        "demo-job-frontend",
        "前端开发工程师",
        "demo-eng",
        "上海·浦东新区",
        f"wang.hao@{HR_DOMAIN}",
        english=False,
        weight=10,
    ),
    DemoJob(
        "demo-job-algorithm",
        "算法工程师（推荐系统）",
        "demo-eng",
        "杭州·西湖区",
        f"li.ting@{HR_DOMAIN}",
        english=False,
        weight=8,
    ),
    DemoJob(
        "demo-job-data",
        "Senior Data Engineer",
        "demo-eng",
        "上海·徐汇区",
        f"wang.hao@{HR_DOMAIN}",
        english=True,
        weight=6,
    ),
    DemoJob(
        "demo-job-pm",
        "产品经理（B端 SaaS）",
        "demo-product",
        "深圳·南山区",
        f"zhao.xue@{HR_DOMAIN}",
        english=False,
        weight=8,
    ),
    DemoJob(
        "demo-job-design",
        "UI/UX 设计师",
        "demo-product",
        "上海·静安区",
        f"sun.yue@{HR_DOMAIN}",
        english=False,
        weight=6,
    ),
    DemoJob(
        "demo-job-intl-pm",
        "Product Manager, International",
        "demo-product",
        "深圳·南山区",
        f"zhao.xue@{HR_DOMAIN}",
        english=True,
        weight=4,
    ),
    DemoJob(
        "demo-job-key-account",
        "大客户销售经理",
        "demo-sales",
        "广州·天河区",
        f"wu.qian@{HR_DOMAIN}",
        english=False,
        weight=10,
    ),
    DemoJob(
        "demo-job-marketing",
        "市场营销专员",
        "demo-sales",
        "成都·高新区",
        f"zheng.kai@{HR_DOMAIN}",
        english=False,
        weight=7,
    ),
    DemoJob(
        "demo-job-overseas-sales",
        "Overseas Sales Manager (EMEA)",
        "demo-sales",
        "深圳·福田区",
        f"zheng.kai@{HR_DOMAIN}",
        english=True,
        weight=5,
    ),
)

# Most common first; the weights below make 王/李/张 as frequent as they are in life.
SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("林", "lin"), ("高", "gao"), ("罗", "luo"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"), ("彭", "peng"),
)  # fmt: skip
GIVEN_NAMES: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("芳", "fang"), ("敏", "min"), ("静", "jing"), ("磊", "lei"),
    ("洋", "yang"), ("杰", "jie"), ("涛", "tao"), ("婷", "ting"), ("鑫", "xin"),
    ("子涵", "zihan"), ("梓轩", "zixuan"), ("浩然", "haoran"), ("雨桐", "yutong"),
    ("思雨", "siyu"), ("欣怡", "xinyi"), ("嘉怡", "jiayi"), ("俊杰", "junjie"),
    ("宇航", "yuhang"), ("博文", "bowen"), ("晓彤", "xiaotong"), ("一诺", "yinuo"),
    ("佳琪", "jiaqi"), ("明轩", "mingxuan"), ("诗涵", "shihan"), ("泽宇", "zeyu"),
    ("思远", "siyuan"), ("雪", "xue"), ("晨曦", "chenxi"), ("梦瑶", "mengyao"),
    ("志强", "zhiqiang"), ("建华", "jianhua"), ("丽娟", "lijuan"), ("海燕", "haiyan"),
    ("文静", "wenjing"), ("亚楠", "yanan"), ("晓东", "xiaodong"), ("春雷", "chunlei"),
    ("慧敏", "huimin"), ("国栋", "guodong"), ("天宇", "tianyu"), ("可欣", "kexin"),
    ("昊天", "haotian"), ("若曦", "ruoxi"), ("家豪", "jiahao"), ("佳怡", "jiayi"),
    ("子墨", "zimo"), ("雅婷", "yating"), ("鹏飞", "pengfei"), ("文博", "wenbo"),
    ("舒然", "shuran"), ("立伟", "liwei"), ("新宇", "xinyu"), ("静怡", "jingyi"),
    ("少杰", "shaojie"), ("晓峰", "xiaofeng"), ("颖", "ying"), ("琳", "lin"),
    ("倩", "qian"), ("凯", "kai"),
)  # fmt: skip
EN_FIRST_NAMES = (
    "James", "Emma", "Oliver", "Sophia", "Liam", "Ava", "Noah", "Isabella", "Lucas", "Mia",
    "Ethan", "Charlotte", "Daniel", "Amelia", "Henry", "Harper", "Jack", "Grace", "Samuel",
    "Chloe", "Thomas", "Hannah", "Ryan", "Olivia", "Alexander", "Emily", "Kevin", "Lily",
    "David", "Sarah",
)  # fmt: skip
EN_LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Roberts", "Walker",
    "Wright", "Thompson", "White", "Hughes", "Edwards", "Green", "Hall", "Wood", "Clarke",
    "Jackson", "Martin", "Lee", "Harris", "Lewis", "Young", "King", "Scott", "Baker",
    "Chen", "Wong", "Müller",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

# Channel orders candidates state, most preferred first, with how often each occurs.
ZH_CHANNELS: tuple[tuple[tuple[Channel, ...], int], ...] = (
    ((Channel.WECHAT, Channel.EMAIL), 40),
    ((Channel.WECHAT, Channel.WEB, Channel.EMAIL), 15),
    # Without e-mail, a candidate who has not subscribed in WeChat cannot be reached: a few.
    ((Channel.WECHAT,), 3),
    ((Channel.EMAIL, Channel.WECHAT), 15),
    ((Channel.WEB, Channel.WECHAT), 2),
    ((Channel.WEB, Channel.WECHAT, Channel.EMAIL), 6),
    ((Channel.EMAIL,), 7),
    ((Channel.WEB, Channel.EMAIL), 5),
    ((Channel.WECHAT, Channel.TELEGRAM, Channel.EMAIL), 5),
)
EN_CHANNELS: tuple[tuple[tuple[Channel, ...], int], ...] = (
    ((Channel.TELEGRAM, Channel.EMAIL), 30),
    ((Channel.EMAIL,), 25),
    ((Channel.EMAIL, Channel.WEB), 15),
    ((Channel.WECHAT, Channel.EMAIL), 15),
    ((Channel.TELEGRAM, Channel.WEB, Channel.EMAIL), 15),
)

STRENGTHS: dict[tuple[Family, Locale], tuple[str, ...]] = {
    ("eng", Locale.ZH_CN): (
        "对分布式系统和高并发场景有实际项目经验，能讲清楚关键的技术取舍",
        "编程题思路清晰，能主动考虑边界条件和异常处理",
        "对数据库索引和事务隔离级别理解扎实",
        "学习能力强，近一年持续关注并实践云原生相关技术",
        "排查线上问题的思路系统，能结合日志和监控定位根因",
        "项目经历描述条理清楚，能说明自己在团队中的具体贡献",
    ),
    ("eng", Locale.EN): (
        "Hands-on experience with distributed, high-traffic systems; explains trade-offs well",
        "Solved the coding task methodically and handled edge cases unprompted",
        "Solid grasp of database indexing and transaction isolation",
        "Learns quickly and has kept up with cloud-native tooling over the past year",
        "Debugs production issues systematically, using logs and metrics to find root causes",
        "Describes past projects clearly, including their own contribution to the team",
    ),
    ("product", Locale.ZH_CN): (
        "能从用户场景出发拆解需求，优先级判断有依据",
        "对 B 端业务流程理解深入，举例贴近实际",
        "数据意识强，习惯用指标衡量功能上线后的效果",
        "沟通表达自然，跨部门协作经验丰富",
        "作品集案例完整，能讲清楚每个设计决策的来龙去脉",
    ),
    ("product", Locale.EN): (
        "Breaks requirements down from real user scenarios and prioritises with clear reasons",
        "Deep understanding of B2B workflows, with examples close to real practice",
        "Data-minded: measures the impact of features with concrete metrics",
        "Communicates naturally and has plenty of cross-team experience",
        "A complete portfolio, with the reasoning behind each design decision explained",
    ),
    ("sales", Locale.ZH_CN): (
        "大客户经验丰富，能完整讲述从线索到签约的推进过程",
        "目标感强，过往业绩数据具体可信",
        "应变能力好，模拟谈判环节表现从容",
        "对所在行业客户的痛点有深入理解",
        "表达有感染力，亲和力强",
    ),
    ("sales", Locale.EN): (
        "Strong key-account experience; walked through a deal from lead to signature",
        "Target-driven, with specific and credible past results",
        "Stayed composed and adaptable in the mock negotiation",
        "Understands the pain points of customers in their industry well",
        "Engaging, persuasive and easy to talk to",
    ),
}
IMPROVEMENTS: dict[tuple[Family, Locale], tuple[str, ...]] = {
    ("eng", Locale.ZH_CN): (
        "系统设计题中对容量估算和扩展性的考虑不够充分",
        "部分回答偏概念，建议结合具体项目数据说明成果",
        "单元测试和自动化测试方面的实践经验较少",
        "作答时间把控可以更好，个别问题展开过长",
        "对常用框架底层原理的理解还可以更深入",
    ),
    ("eng", Locale.EN): (
        "The system-design answer paid little attention to capacity planning and scaling",
        "Some answers stayed abstract; numbers from real projects would make them stronger",
        "Limited hands-on experience with unit and automated testing",
        "Time management: a few answers ran long",
        "Could go deeper into how the frameworks they use work under the hood",
    ),
    ("product", Locale.ZH_CN): (
        "竞品分析停留在功能对比，缺少对商业模式的思考",
        "对需求上线后的效果复盘讲得较少",
        "面对追问时略显犹豫，可以更有条理地组织观点",
        "对设计规范和无障碍体验的关注还不够",
    ),
    ("product", Locale.EN): (
        "Competitive analysis compared features but not business models",
        "Said little about reviewing results after a feature shipped",
        "Hesitated under follow-up questions; a clearer structure would help",
        "Design systems and accessibility deserve more attention",
    ),
    ("sales", Locale.ZH_CN): (
        "对公司产品和目标行业的了解还可以更充分",
        "回款和合同风险方面的案例较少",
        "模拟谈判中让步偏早，议价策略可以更有层次",
        "使用 CRM 工具和分析销售数据的经验有限",
    ),
    ("sales", Locale.EN): (
        "Could know our products and target industries better",
        "Few examples of managing payment collection and contract risk",
        "Conceded early in the mock negotiation; a more layered pricing strategy would help",
        "Limited experience with CRM tools and sales data analysis",
    ),
}
GENERIC_IMPROVEMENTS: dict[Locale, tuple[str, ...]] = {
    Locale.ZH_CN: ("可以多准备一些能量化成果的例子", "视频作答时语速偏快，可以适当放慢"),
    Locale.EN: (
        "Prepare a few more examples with measurable results",
        "Spoke quickly on video; a slower pace would help",
    ),
}

NEXT_STEPS: dict[tuple[InterviewKind, Decision, Locale], str] = {
    (InterviewKind.AI_VIDEO, Decision.ADVANCE, Locale.ZH_CN): (
        "恭喜通过 AI 面试！招聘顾问将在 2 个工作日内联系您预约电话面试。"
    ),
    (InterviewKind.AI_VIDEO, Decision.ADVANCE, Locale.EN): (
        "Congratulations on passing the AI interview! A recruiter will contact you within "
        "2 working days to book a phone interview."
    ),
    (InterviewKind.AI_VIDEO, Decision.REJECT, Locale.ZH_CN): (
        "感谢您投入时间参加面试。本岗位暂不推进，欢迎关注我们后续发布的其他职位。"
    ),
    (InterviewKind.AI_VIDEO, Decision.REJECT, Locale.EN): (
        "Thank you for the time you put into the interview. We will not move forward for this "
        "role, and we hope to see you apply for future openings."
    ),
    (InterviewKind.AI_VIDEO, Decision.HOLD, Locale.ZH_CN): (
        "您已进入备选名单。岗位名额确认后，我们会在两周内与您联系。"
    ),
    (InterviewKind.AI_VIDEO, Decision.HOLD, Locale.EN): (
        "You are on our shortlist. We will get back to you within two weeks, once headcount "
        "for the role is confirmed."
    ),
    (InterviewKind.PHONE, Decision.ADVANCE, Locale.ZH_CN): (
        "请留意现场面试邀请，HR 会与您确认具体时间和地点。"
    ),
    (InterviewKind.PHONE, Decision.ADVANCE, Locale.EN): (
        "Watch out for your onsite interview invitation; HR will confirm the time and place."
    ),
    (InterviewKind.PHONE, Decision.REJECT, Locale.ZH_CN): (
        "感谢您参加电话面试。经过综合评估，本岗位暂不推进。"
    ),
    (InterviewKind.PHONE, Decision.REJECT, Locale.EN): (
        "Thank you for the phone interview. After careful review we will not move forward "
        "for this role."
    ),
    (InterviewKind.ONSITE, Decision.ADVANCE, Locale.ZH_CN): (
        "恭喜通过终面！HR 将与您沟通录用意向和薪酬方案。"
    ),
    (InterviewKind.ONSITE, Decision.ADVANCE, Locale.EN): (
        "Congratulations on passing the final round! HR will discuss the offer with you."
    ),
    (InterviewKind.ONSITE, Decision.REJECT, Locale.ZH_CN): (
        "感谢您到公司参加面试。本次未能匹配岗位需求，期待未来有机会合作。"
    ),
    (InterviewKind.ONSITE, Decision.REJECT, Locale.EN): (
        "Thank you for coming onsite. This time it was not a match; we hope our paths cross again."
    ),
    (InterviewKind.ONSITE, Decision.HOLD, Locale.ZH_CN): (
        "终面结果待定，用人部门正在比较几位候选人，我们会在一周内给您答复。"
    ),
    (InterviewKind.ONSITE, Decision.HOLD, Locale.EN): (
        "The final decision is pending while the team compares a few candidates; we will "
        "reply within a week."
    ),
}
WITHDRAW_REASONS: dict[Locale, tuple[str, ...]] = {
    Locale.ZH_CN: (
        "已接受其他公司的录用",
        "个人原因，暂不考虑换工作",
        "工作地点不合适",
        "薪资期望与岗位不匹配",
    ),
    Locale.EN: (
        "Accepted another offer",
        "Decided to stay in the current role",
        "The location does not work for me",
        "Salary expectations do not match",
    ),
}


def ai_summary(score: float, title: str, locale: Locale) -> str:
    if locale is Locale.EN:
        if score >= 80:
            verdict = (
                "an excellent performance: well-structured answers that closely match what "
                f"the {title} role needs."
            )
        elif score >= 65:
            verdict = (
                "a solid performance: the core skills for the role are there, and some answers "
                "could go deeper."
            )
        else:
            verdict = (
                f"there is still a gap to what the {title} role requires today, although "
                "communication was a clear strength."
            )
        return f"AI video interview overall score {score:.1f}/100; {verdict}"
    if score >= 80:
        verdict = f"整体表现优秀，回答结构清晰，专业能力与「{title}」岗位要求高度匹配。"
    elif score >= 65:
        verdict = "整体表现良好，具备岗位所需的基础能力，部分问题的回答深度还可以加强。"
    else:
        verdict = f"与「{title}」岗位当前的要求还有一定差距，但沟通表达方面有可取之处。"
    return f"AI 视频面试综合得分 {score:.1f} 分。{verdict}"


def human_summary(kind: InterviewKind, decision: Decision | None, locale: Locale) -> str:
    if locale is Locale.EN:
        opening = (
            "Phone screen: clear communication; experience matches the CV."
            if kind is InterviewKind.PHONE
            else "Onsite interviews with the hiring team: good collaboration in the case study."
        )
        closing = {
            Decision.ADVANCE: "Recommended for the next step.",
            Decision.REJECT: "Core skills fall short of the role's current needs.",
            Decision.HOLD: "A good candidate; compared with others before a decision.",
            None: "The interviewer is writing up the evaluation.",
        }[decision]
        return f"{opening} {closing}"
    opening = (
        "电话面试：沟通顺畅，项目经历与简历描述一致。"
        if kind is InterviewKind.PHONE
        else "现场面试：与用人团队交流顺畅，案例讨论中协作意识好。"
    )
    closing = {
        Decision.ADVANCE: "建议进入下一轮。",
        Decision.REJECT: "核心能力与岗位当前需求存在差距。",
        Decision.HOLD: "综合素质不错，需与其他候选人比较后再定。",
        None: "面试官正在整理评估意见。",
    }[decision]
    return opening + closing
