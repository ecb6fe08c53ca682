"""A template's SMS form: the provider's pre-approved template and how to fill it.

SMS providers in China send only templates they approved beforehand, so Candor cannot send
its own text by SMS. The form names the provider's template code and gives, for each of the
provider template's variables, a Jinja source over the same variables as the body:

- Alibaba (dysmsapi) names its variables: `${name}` in the approved text, key `name`;
- Tencent numbers them: `{1}`, `{2}`, ... in the approved text, keys `"1"`, `"2"`, ....

`preview_text` is the approved template's text, optional. Candor never sends it (the provider
has it); it only lets the console show what the candidate will read and count its segments.

Every rendered value must fit the provider's variable rules, checked when the template is
saved against the same sample contexts as the body (`templating.sample_contexts`):
at most `MAX_SMS_PARAM_CHARS` characters and never empty. 35 is Alibaba's limit for a
variable of the "other" kind (名称、账号、地址等), the one names and job titles use; Tencent's
limits depend on the account's verification (see docs/channels.md), so a Tencent account with
a smaller limit must keep its parameters shorter than this check asks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping

from candor.outreach.templating import (
    MAX_SAMPLE_MATRIX_CPU_SECONDS,
    TemplateRenderError,
    render,
    sample_contexts,
)

MAX_SMS_PARAM_CHARS = 35
MAX_SMS_PARAMS = 20
MAX_PREVIEW_TEXT_CHARS = 500  # both providers' limit on an approved template's text
TEMPLATE_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Alibaba: a letter, then letters, digits or _, at most 25; Tencent: a position 1..99.
NAMED_PARAM = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,24}$")
POSITIONAL_PARAM = re.compile(r"^[1-9][0-9]?$")
# ${name} (Alibaba) or {1} (Tencent) in an approved template's text.
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}|\{([1-9][0-9]?)\}")


def field_name(param: str) -> str:
    """The name validation problems and render errors use for one parameter."""
    return f"sms_params.{param}"


def form_problems(
    template_code: str | None, params: Mapping[str, str], preview_text: str | None
) -> list[str]:
    """What is wrong with the form's shape (not its rendering): a code and parameters go
    together, names follow one provider's convention, the preview text uses exactly them."""
    problems: list[str] = []
    if template_code is None and not params:
        if preview_text:
            problems.append("sms_preview_text: there is no sms_template_code to preview")
        return problems
    if template_code is None:
        problems.append("sms_template_code: parameters are given, but no provider template code")
    elif not TEMPLATE_CODE.match(template_code):
        problems.append(
            "sms_template_code: letters, digits, '_', '.' or '-', at most 64 "
            "(e.g. SMS_123456789 or 1234567)"
        )
    if not params:
        problems.append("sms_params: a provider template code needs its parameters")
        return problems
    if len(params) > MAX_SMS_PARAMS:
        problems.append(f"sms_params: at most {MAX_SMS_PARAMS} parameters")
    problems += [
        f"{field_name(name)}: no source; write it as {name} = {{{{ variable }}}}"
        for name, source in params.items()
        if not source.strip()
    ]
    named = [name for name in params if NAMED_PARAM.match(name)]
    positional = [name for name in params if POSITIONAL_PARAM.match(name)]
    for name in params:
        if name not in named and name not in positional:
            problems.append(
                f"{field_name(name)}: a name is a variable name (Alibaba: a letter, then "
                "letters, digits or _, at most 25) or a position (Tencent: 1, 2, ...)"
            )
    if named and positional:
        problems.append("sms_params: use variable names (Alibaba) or positions (Tencent), not both")
    elif positional and sorted(int(p) for p in positional) != list(range(1, len(positional) + 1)):
        problems.append("sms_params: positions must be 1, 2, ... without gaps")
    if preview_text is not None:
        problems += _preview_problems(preview_text, params)
    return problems


def _preview_problems(preview_text: str, params: Mapping[str, str]) -> list[str]:
    if len(preview_text) > MAX_PREVIEW_TEXT_CHARS:
        return [f"sms_preview_text: longer than {MAX_PREVIEW_TEXT_CHARS} characters"]
    used = {named or position for named, position in PLACEHOLDER.findall(preview_text)}
    problems = [
        f"sms_preview_text: placeholder for {name!r} has no parameter"
        for name in sorted(used - params.keys())
    ]
    problems += [
        f"{field_name(name)}: not used in sms_preview_text" for name in sorted(params.keys() - used)
    ]
    return problems


def rendered_value_problems(params: Mapping[str, str]) -> list[str]:
    """The first sample context for which a parameter renders empty or too long for the
    provider. Assumes the sources render (checked before); CPU-bound like the sample matrix."""
    deadline = time.thread_time() + MAX_SAMPLE_MATRIX_CPU_SECONDS
    for sample in sample_contexts():
        for name, source in params.items():
            try:
                value = render(source, sample.context, cpu_deadline=deadline)
            except TemplateRenderError as exc:
                problem = f"fails for the sample with {sample.description}: {exc}"
                return [f"{field_name(name)}: {problem}"]
            if not value:
                return [
                    f"{field_name(name)}: empty for the sample with {sample.description}; "
                    "SMS providers refuse an empty variable"
                ]
            if len(value) > MAX_SMS_PARAM_CHARS:
                return [
                    f"{field_name(name)}: {len(value)} characters for the sample with "
                    f"{sample.description}; an SMS variable takes at most {MAX_SMS_PARAM_CHARS}"
                ]
    return []


def parse_lines(text: str) -> dict[str, str]:
    """The console's one-parameter-a-line form, `name = {{ source }}`, as parameters. A line
    without `=` becomes a parameter without a source, which validation names."""
    params = {}
    for line in text.splitlines():
        if line.strip():
            name, _, source = line.partition("=")
            params[name.strip()] = source.strip()
    return params


def as_lines(params: Mapping[str, str]) -> str:
    return "\n".join(f"{name} = {source}" for name, source in params.items())


def fill(preview_text: str, values: Mapping[str, str]) -> str:
    """The approved text with each placeholder replaced by its rendered value."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))

    return PLACEHOLDER.sub(value, preview_text)
