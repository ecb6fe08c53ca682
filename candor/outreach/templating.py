"""Message templates: validated when saved, rendered in Jinja2's sandbox when drafted.

A template may use only the variables in `TEMPLATE_VARIABLES`. Using any other name, or
invalid syntax, is refused when the template is saved, so a typo can never surface as a
broken message to a candidate. Rendering uses StrictUndefined as a second line of defence.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import (
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    meta,
    nodes,
    pass_context,
    pass_eval_context,
)
from jinja2.filters import FILTERS as DEFAULT_FILTERS
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from candor.errors import CandorError

# name -> what it holds, for the template editor and the docs.
TEMPLATE_VARIABLES: Mapping[str, str] = {
    "candidate_name": "the candidate's name",
    "job_title": "the job applied for",
    "company_name": "the employer's name (CANDOR_COMPANY_NAME)",
    "application_code": "the application code, AP-YYYY-NNNNNN",
    "interview_date": "the interview's completion date, local (YYYY-MM-DD)",
    "next_steps": "next-round details from the ATS; empty when there are none",
    "deadline": "the date by which the candidate should reply, local (YYYY-MM-DD)",
    "strengths": "up to three strengths from the interview report (list)",
    "improvements": "one to three improvement points from the interview report (list)",
    "talent_pool_invite": "true when the candidate may be invited to the talent pool",
}

MAX_TEMPLATE_CHARS = 8_000


class TemplateValidationError(CandorError, ValueError):
    """The template cannot be saved; `problems` lists each reason for the editor."""

    code = "invalid_template"
    http_status = 422

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the template cannot be used as written", details=problems)
        self.problems = problems

    def __str__(self) -> str:
        return "; ".join(self.problems)


class TemplateRenderError(CandorError, RuntimeError):
    code = "template_render_failed"
    http_status = 422

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        where = f"{field}: " if field is not None else ""
        super().__init__(f"the template did not render: {where}{reason}")
        self.reason = reason
        self.field = field

    def in_field(self, field: str) -> TemplateRenderError:
        """The same failure, naming the template field (body, subject, ...) it happened in."""
        return TemplateRenderError(self.reason, field=field)

    def __str__(self) -> str:
        return self.reason


# Limits on one render. An HR user's preview runs whatever they typed, so every way a template
# can spend time or memory is bounded; real templates are a few hundred characters with loops
# over at most three items, so they stay far below each limit.
#: Characters a render may emit (at any depth: macros and `{% set %}` blocks count too), and
#: the largest string or list one operation may build. A message is a few KiB at most.
MAX_RENDERED_CHARS = 50_000
#: Loop iterations, calls and output pieces in one render: nested loops multiply, so a cap on
#: steps rather than on each loop is what keeps a render short.
MAX_RENDER_STEPS = 200_000
#: CPU time one render may use, for steps that are each expensive (sorting big lists in a loop).
MAX_RENDER_CPU_SECONDS = 0.5
#: Items a `range()` may have, and bits an integer may grow to: nothing in a message needs more.
MAX_RANGE_ITEMS = 10_000
MAX_INTEGER_BITS = 4_096
# String methods whose result can be far longer than their inputs; their filters are bounded.
_GROWING_STR_METHODS = frozenset(
    {
        "center",
        "ljust",
        "rjust",
        "zfill",
        "expandtabs",
        "replace",
        "join",
        "format",
        "format_map",
        "translate",
    }
)
# A %-conversion's width and precision: digits, or * to take them from the arguments.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d*)(?:\.(\*|\d*))?")


def _over_limit(what: str) -> TemplateRenderError:
    return TemplateRenderError(f"{what} would exceed {MAX_RENDERED_CHARS} characters")


def _check_size(size: int, what: str) -> None:
    if size > MAX_RENDERED_CHARS:
        raise _over_limit(what)


@dataclass(slots=True)
class _Budget:
    steps_left: int
    chars_left: int
    cpu_deadline: float

    def step(self) -> None:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise TemplateRenderError(
                f"the template takes more than {MAX_RENDER_STEPS} steps (loops, calls, output)"
            )
        # Reading the thread's CPU clock is a system call: often enough, not on every step.
        if self.steps_left % 64 == 0 and time.thread_time() > self.cpu_deadline:
            raise TemplateRenderError(
                f"the template takes more than {MAX_RENDER_CPU_SECONDS} s of CPU time"
            )

    def emit(self, text: str) -> None:
        self.step()
        self.chars_left -= len(text)
        if self.chars_left < 0:
            raise _over_limit("the rendered text")


_budget: ContextVar[_Budget] = ContextVar("template_render_budget")


def _spend_step() -> None:
    try:
        budget = _budget.get()
    except LookupError:
        raise TemplateRenderError("templates render only through render()") from None
    budget.step()


@pass_context
def _counted_iteration(_context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """Every `{% for %}` iterates through here, so each iteration spends a step."""
    budget = _budget.get()
    for item in iterable:
        budget.step()
        yield item


@pass_context
def _emitted(_context: Context, value: Any) -> Any:
    """Every piece of output, literal or computed, at any depth, is counted as it is made."""
    _check_size(_weight(value), "the rendered text")
    _budget.get().emit(str(value))
    return value


def _bounded_concat(parts: list[Any]) -> str:
    _check_size(sum(map(_weight, parts)), "a ~ concatenation")
    texts = [str(part) for part in parts]
    _check_size(sum(map(len, texts)), "a ~ concatenation")
    return "".join(texts)


def _bounded_range(*args: int) -> range:
    items = range(*args)
    if len(items) > MAX_RANGE_ITEMS:
        raise TemplateRenderError(f"range() of more than {MAX_RANGE_ITEMS} items")
    return items


def _check_percent_format(template: str) -> None:
    """`%` formatting pads to any width it is given, so widths are bounded up front."""
    padding = 0
    for spec in _PERCENT_SPEC.finditer(template):
        for number in spec.groups(default=""):
            if number == "*":
                raise TemplateRenderError("% formatting with a width taken from the arguments")
            padding += min(int(number or 0), MAX_RENDERED_CHARS + 1)
    _check_size(len(template) + padding, "% formatting")


def _weight(value: Any) -> int:
    """About how long `value` is as text, counting shared parts each time they appear
    (`[a, a]` prints `a` twice); stops counting once past the limit, so it stays cheap."""
    total, pending = 0, [value]
    while pending and total <= MAX_RENDERED_CHARS:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1
            pending.extend(item)
        elif isinstance(item, dict):
            total += 1
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 3
        else:
            total += 1
    return total


def _bounded_value(value: Any) -> Any:
    """List, tuple and dict literals: nesting one value twice per level doubles its size."""
    _check_size(_weight(value), "a list or dict")
    return value


class _BoundedLoopsAndOutput(NodeTransformer):
    """Routes every loop, `~` and piece of output through the budget before compiling."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - dispatched by node class name
        self.generic_visit(node)
        node.iter = _filter(node.iter, "_counted_iteration")
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802 - dispatched by node class name
        self.generic_visit(node)
        return _filter(nodes.List(node.nodes, lineno=node.lineno), "_bounded_concat")

    def visit_Output(self, node: nodes.Output) -> nodes.Node:  # noqa: N802 - dispatched by node class name
        self.generic_visit(node)
        node.nodes = [
            _filter(nodes.Const(child.data, lineno=child.lineno), "_emitted")
            if isinstance(child, nodes.TemplateData)
            else _filter(child, "_emitted")
            for child in node.nodes
        ]
        return node

    def visit_List(self, node: nodes.List) -> nodes.Node:  # noqa: N802 - dispatched by node class name
        self.generic_visit(node)
        return _filter(node, "_bounded_value")

    visit_Tuple = visit_List  # noqa: N815 - as above
    visit_Dict = visit_List  # noqa: N815 - as above


def _filter(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _bounded_filter(name: str, estimate: Callable[[dict[str, Any]], int]) -> Callable[..., Any]:
    """Jinja's filter `name`, refused before it runs when its result would be too long."""
    original = DEFAULT_FILTERS[name]
    signature = inspect.signature(original)

    @functools.wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(*args, **kwargs)
        arguments.apply_defaults()
        _check_size(estimate(arguments.arguments), f"the {name} filter")
        return original(*args, **kwargs)

    return bounded


def _indent_size(a: dict[str, Any]) -> int:
    text, width = str(a["s"]), a["width"]
    return len(text) + (width if isinstance(width, int) else len(str(width))) * (
        text.count("\n") + 1
    )


def _replace_size(a: dict[str, Any]) -> int:
    text, old, count = str(a["s"]), str(a["old"]), a["count"]
    occurrences = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * len(str(a["new"]))


def _format_size(a: dict[str, Any]) -> int:
    _check_percent_format(str(a["value"]))
    return len(str(a["value"])) + sum(len(str(arg)) for arg in a["args"])


def _wordwrap_size(a: dict[str, Any]) -> int:
    text, width = str(a["s"]), max(int(a["width"]), 1)
    return len(text) + (len(text) // width + 1) * len(str(a["wrapstring"] or "\n"))


def _numeric_start(a: dict[str, Any]) -> int:
    if not isinstance(a["start"], int | float):
        raise TemplateRenderError("sum() adds numbers only")
    return 0


@pass_eval_context
def _bounded_join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    items = list(value)
    if attribute is None:
        _check_size(
            sum(len(str(item)) for item in items) + len(str(d)) * len(items), "the join filter"
        )
    return str(DEFAULT_FILTERS["join"](eval_ctx, items, d, attribute))


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with every way to spend unbounded time or memory bounded or refused."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,  # plain text and WeChat fields, never HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.globals.pop("lipsum")  # writes as much text as it is asked for
        self.globals["range"] = _bounded_range
        self.filters.update(
            _counted_iteration=_counted_iteration,
            _emitted=_emitted,
            _bounded_concat=_bounded_concat,
            join=_bounded_join,
            center=_bounded_filter("center", lambda a: max(len(str(a["value"])), a["width"])),
            indent=_bounded_filter("indent", _indent_size),
            replace=_bounded_filter("replace", _replace_size),
            format=_bounded_filter("format", _format_size),
            wordwrap=_bounded_filter("wordwrap", _wordwrap_size),
            _bounded_value=_bounded_value,
            batch=_bounded_filter(
                "batch", lambda a: int(a["linecount"]) * max(_weight(a["fill_with"]), 1)
            ),
            slice=_bounded_filter(
                "slice", lambda a: int(a["slices"]) * max(_weight(a["fill_with"]), 1)
            ),
            sum=_bounded_filter("sum", _numeric_start),
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    _check_size(_weight(seq) * times, "a repetition with *")
            if isinstance(left, int) and isinstance(right, int):
                self._check_bits(left.bit_length() + right.bit_length())
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                self._check_bits(left.bit_length() * right)
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                _check_size(_weight(left) + _weight(right), "a concatenation with +")
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left)
        return super().call_binop(context, operator, left, right)

    @staticmethod
    def _check_bits(bits: int) -> None:
        if bits > MAX_INTEGER_BITS:
            raise TemplateRenderError(f"a number larger than {MAX_INTEGER_BITS} bits")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _spend_step()
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        if isinstance(getattr(method, "__self__", None), str) and (
            getattr(method, "__name__", "") in _GROWING_STR_METHODS
        ):
            raise TemplateRenderError(
                f"str.{method.__name__}() is not available in templates; use its filter"
            )
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, list | tuple | dict):  # dict(a=x, b=x) nests like a literal
            _check_size(_weight(result), "a list or dict")
        return result


_environment = _BoundedSandbox()


def validate_source(source: str, *, field: str = "body") -> list[str]:
    """Problems with one template source, or an empty list when it can be saved."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return [f"{field}: longer than {MAX_TEMPLATE_CHARS} characters"]
    try:
        parsed = _environment.parse(source)
        # An unknown filter or test shows only when compiling (or walking the tree).
        unknown = sorted(meta.find_undeclared_variables(parsed) - TEMPLATE_VARIABLES.keys())
        if not unknown:
            _compiled(source)
    except TemplateSyntaxError as exc:
        return [f"{field}: syntax error on line {exc.lineno}: {exc.message}"]
    return [f"{field}: unknown variable {{{{ {name} }}}}" for name in unknown]


def template_problems(sources: Mapping[str, str]) -> list[str]:
    """Every problem with every field of a template (body, subject, WeChat fields)."""
    return [
        problem for field, src in sources.items() for problem in validate_source(src, field=field)
    ]


def validate_template(sources: Mapping[str, str]) -> None:
    """Validate every field of a template (body, subject, WeChat fields) at once."""
    problems = template_problems(sources)
    if problems:
        raise TemplateValidationError(problems)


@dataclass(frozen=True, slots=True)
class TemplateContext:
    candidate_name: str
    job_title: str
    company_name: str
    application_code: str
    interview_date: str
    next_steps: str
    deadline: str
    strengths: tuple[str, ...]
    improvements: tuple[str, ...]
    talent_pool_invite: bool

    def as_variables(self) -> dict[str, Any]:
        return {
            "candidate_name": self.candidate_name,
            "job_title": self.job_title,
            "company_name": self.company_name,
            "application_code": self.application_code,
            "interview_date": self.interview_date,
            "next_steps": self.next_steps,
            "deadline": self.deadline,
            "strengths": list(self.strengths),
            "improvements": list(self.improvements),
            "talent_pool_invite": self.talent_pool_invite,
        }


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """Compiling is most of a render's cost; a template's versions are immutable, so a
    source compiles once per process (bounded, as edited templates add new sources)."""
    tree = _environment.parse(source)
    _BoundedLoopsAndOutput().visit(tree)
    return _environment.from_string(tree)


def render(source: str, context: TemplateContext, *, cpu_deadline: float | None = None) -> str:
    """Render one source within the limits above; TemplateRenderError for anything else.

    CPU-bound for up to MAX_RENDER_CPU_SECONDS (or until `cpu_deadline`, a `thread_time()`,
    if sooner): callers on the event loop that render what an HR user just typed go through
    `asyncio.to_thread`.
    """
    deadline = time.thread_time() + MAX_RENDER_CPU_SECONDS
    token = _budget.set(
        _Budget(
            steps_left=MAX_RENDER_STEPS,
            chars_left=MAX_RENDERED_CHARS,
            cpu_deadline=deadline if cpu_deadline is None else min(deadline, cpu_deadline),
        )
    )
    try:
        pieces: list[str] = []
        length = 0
        for piece in _compiled(source).generate(context.as_variables()):
            pieces.append(piece)
            length += len(piece)
            if length > MAX_RENDERED_CHARS:
                raise _over_limit("the rendered text")
        text = "".join(pieces)
    except TemplateRenderError:
        raise
    except TemplateError as exc:
        raise TemplateRenderError(str(exc)) from exc
    except Exception as exc:
        # A template is code an HR user wrote: whatever it raises (division by zero, an index
        # past the end, a recursion too deep) is that template's failure, shown to its author.
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        _budget.reset(token)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


# --- Save-time rendering against sample contexts ------------------------------------------
#
# A template that only fails on some data (`{{ strengths[2] }}` with one strength, a division
# by `improvements|length`) passes the checks above. Before it is saved it is rendered against
# every shape of context drafting can produce, so such a template is refused with the sample
# it failed on instead of failing later on a candidate's result.

#: CPU time the whole sample matrix may take. A real template renders the matrix in a few tens
#: of milliseconds; one that spends a render's full budget on each sample is refused.
MAX_SAMPLE_MATRIX_CPU_SECONDS = 2 * MAX_RENDER_CPU_SECONDS
SAMPLE_ITEM_COUNTS = (0, 1, 2, 3)  # result_context keeps at most three of each


@dataclass(frozen=True, slots=True)
class SampleContext:
    description: str
    context: TemplateContext


# locale -> what a sample candidate in that locale looks like.
_SAMPLE_TEXT: Mapping[str, Mapping[str, Any]] = {
    "zh-CN": {
        "candidate_name": "张伟",
        "job_title": "后端开发工程师",
        "company_name": "示例科技",
        "next_steps": "3月12日 14:00 现场面试",
        "strengths": ("沟通清晰", "逻辑严谨", "学习能力强"),
        "improvements": ("系统设计", "测试意识", "时间管理"),
    },
    "en": {
        "candidate_name": "Alex Smith",
        "job_title": "Backend Engineer",
        "company_name": "Example Ltd",
        "next_steps": "Onsite interview on 12 March at 14:00",
        "strengths": ("clear communication", "structured reasoning", "quick learning"),
        "improvements": ("system design", "testing", "time management"),
    },
}


@lru_cache(maxsize=1)
def sample_contexts() -> tuple[SampleContext, ...]:
    """Every outcome × both locales × 0-3 strengths × 0-3 improvement points × the optional
    fields empty or present (`next_steps`, and `talent_pool_invite` where the outcome can
    set it). Outcomes only change `deadline` and `talent_pool_invite`, but listing them keeps
    the failing sample's description in HR's terms."""
    samples = []
    for outcome in ("reject", "advance", "hold"):
        for locale, text in _SAMPLE_TEXT.items():
            for strengths in SAMPLE_ITEM_COUNTS:
                for improvements in SAMPLE_ITEM_COUNTS:
                    for optional_present in (False, True):
                        invite = optional_present and outcome == "reject"
                        context = TemplateContext(
                            candidate_name=text["candidate_name"],
                            job_title=text["job_title"],
                            company_name=text["company_name"],
                            application_code="AP-2026-000123",
                            interview_date="2026-03-03",
                            next_steps=text["next_steps"] if optional_present else "",
                            deadline="2026-03-10",
                            strengths=text["strengths"][:strengths],
                            improvements=text["improvements"][:improvements],
                            talent_pool_invite=invite,
                        )
                        description = (
                            f"outcome {outcome}, locale {locale}, {strengths} strengths, "
                            f"{improvements} improvement points, next_steps "
                            f"{'present' if optional_present else 'empty'}, "
                            f"talent_pool_invite {'true' if invite else 'false'}"
                        )
                        samples.append(SampleContext(description, context))
    return tuple(samples)


def sample_render_problems(sources: Mapping[str, str]) -> list[str]:
    """The first sample context any field fails to render with, and why; empty when every
    field renders for every sample. CPU-bound (tens of milliseconds, at most
    MAX_SAMPLE_MATRIX_CPU_SECONDS): call it off the event loop."""
    deadline = time.thread_time() + MAX_SAMPLE_MATRIX_CPU_SECONDS
    too_slow = (
        f"rendering the template for every sample context takes more than "
        f"{MAX_SAMPLE_MATRIX_CPU_SECONDS} s of CPU time; simplify it"
    )
    for sample in sample_contexts():
        for field, source in sources.items():
            try:
                render(source, sample.context, cpu_deadline=deadline)
            except TemplateRenderError as exc:
                if time.thread_time() > deadline:
                    return [too_slow]
                return [f"{field}: fails for the sample with {sample.description}: {exc.reason}"]
        if time.thread_time() > deadline:
            return [too_slow]
    return []


def saving_problems(sources: Mapping[str, str]) -> list[str]:
    """Everything that stops a template being saved: unknown variables and syntax first, then
    a runtime error on any sample context. CPU-bound: call it off the event loop."""
    return template_problems(sources) or sample_render_problems(sources)
