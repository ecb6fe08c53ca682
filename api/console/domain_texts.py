"""The domain's fixed English texts that console pages show, marked for the catalogue.

candor/ stays free of the edge's translation machinery: it hands over data and fixed
English texts, and the pages pass them through the `tr` filter, which finds them here by
their exact wording. tests/api/console/test_i18n.py fails when a text below drifts from
the domain's (so a reworded domain text is noticed), and when the catalogue lacks one."""

from __future__ import annotations

from api.console.i18n import N_

# candor.outreach.templating.TEMPLATE_VARIABLES: the template editor's variable list.
TEMPLATE_VARIABLE_TEXTS = (
    N_("the candidate's name"),
    N_("the job applied for"),
    N_("the employer's name (CANDOR_COMPANY_NAME)"),
    N_("the application code, AP-YYYY-NNNNNN"),
    N_("the interview's completion date, local (YYYY-MM-DD)"),
    N_("next-round details from the ATS; empty when there are none"),
    N_("the date by which the candidate should reply, local (YYYY-MM-DD)"),
    N_("up to three strengths from the interview report (list)"),
    N_("one to three improvement points from the interview report (list)"),
    N_("true when the candidate may be invited to the talent pool"),
)

# candor.access.tokens.SCOPE_HELP: the API token form.
SCOPE_HELP_TEXTS = (
    N_("the ATS posts events (applications, interviews, results)"),
    N_("read the working-day calendar"),
    N_("change holidays, make-up days and year schedules"),
    N_("an HR user's personal token: the HR API as that user, within their teams"),
)

# Why a conversation waits for a person (handoffs.reason, set by actions/ and the dialogue).
HANDOFF_REASON_TEXTS = (
    N_("asked"),
    N_("complaint"),
    N_("fallback"),
    N_("withdrawn by the candidate in chat"),
)

# candor.access: refusals shown next to a field of the access pages.
ACCESS_PROBLEM_TEXTS = (
    N_("this user is already active"),
    N_("this user is already deactivated"),
    N_("enter an e-mail address"),
    N_("this account's logins are not delayed"),
    N_("not a console language"),
)
