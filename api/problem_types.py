"""What each problem ``type`` means and what to do about it: the pages ``/problems/<code>``.

Every error the service answers has a stable code; its problem document's ``type`` is
``/problems/<code>``, and that URL explains it (a test checks every code the code base can emit has
an entry here).
"""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.problems import ApiProblem

# code -> (status, what it means, what to do)
PROBLEM_TYPES: dict[str, tuple[int, str, str]] = {
    # authentication and authorisation
    "unauthenticated": (401, "No credentials were sent.", "Send `Authorization: Bearer <key>`."),
    "invalid_key": (
        401,
        "The key is unknown or revoked, or its user was removed from the establishment.",
        "Ask the establishment's administrator (or the CDC) for a new key.",
    ),
    "forbidden": (
        403,
        "The caller's role or profile does not allow this (auditors never write; consultation "
        "profiles only read; administration is needed to manage users, keys and delegations).",
        "Use a key of a user with the right profile.",
    ),
    "invalid_credentials": (
        401,
        "The e-mail, the password or the second factor is wrong (which one is not said).",
        "Try again; after a few failures the account and the address wait before the next try.",
    ),
    "too_many_attempts": (
        429,
        "Too many failed sign-ins for this account or from this address: it waits a while.",
        "Retry after `Retry-After` seconds; an administrator can reset the account.",
    ),
    "session_expired": (
        401,
        "The session has ended (idle or absolute expiry, sign-out, deactivation).",
        "Sign in again.",
    ),
    "cross_site_request": (
        403,
        "A session never serves a request another site made (Origin, Sec-Fetch-Site).",
        "Use the console's own pages, or an API key for software.",
    ),
    "csrf_refused": (
        403,
        "A request that changes something with a session must carry its CSRF token.",
        "Send the session's token in `X-CSRF-Token` (or the form's hidden field).",
    ),
    "enrolment_required": (
        409,
        "The second factor must be enrolled before the account is activated.",
        "Enrol the second factor (scan the QR code), then send a code from it.",
    ),
    "invalid_activation": (
        422,
        "The activation code is unknown, already used or expired.",
        "Ask the administrator for a new activation code.",
    ),
    "weak_password": (
        422,
        "The password is too short or among the common ones.",
        "Choose a longer, uncommon passphrase.",
    ),
    "invalid_second_factor": (
        422,
        "The second-factor code is wrong, or was already used in its time window.",
        "Enter the next code your authenticator shows.",
    ),
    "invalid_email": (422, "The e-mail address is not valid.", "Check it."),
    "email_already_used": (
        409,
        "An account already uses this e-mail address.",
        "Use another address, or manage the existing account.",
    ),
    "account_state_conflict": (
        409,
        "The account is not in a state that allows this (already active, deactivated…).",
        "Read `detail`.",
    ),
    "account_not_found": (404, "No such account in your scope.", "Check the user id."),
    "invalid_profile": (
        422,
        "A habilitation line names an unknown profile.",
        "Use consultation, gestion or administration.",
    ),
    "missing_field": (422, "A habilitation line lacks a required field.", "Fill it in."),
    # input
    "invalid_request": (
        422,
        "The request is malformed: `errors` lists each problem by location. Values are never "
        "repeated (they may be personal data).",
        "Fix each field named in `errors`.",
    ),
    "invalid_input": (422, "A value breaks a rule of its own.", "Read `detail`, fix the value."),
    "invalid_nir": (
        422,
        "The NIR is not a valid social security number (length, key, sex digit, month).",
        "Check the 15 characters against the agent's card (Corsica: 2A, 2B).",
    ),
    "invalid_siret": (
        422,
        "The SIRET is not valid (14 digits, Luhn key; La Poste's own rule).",
        "Check the establishment's SIRET.",
    ),
    "invalid_hours": (
        422,
        "Hours are whole numbers above zero; days are whole or half days (1 day = 6 h).",
        "Send `hours` or `days` accordingly.",
    ),
    "invalid_effective_date": (
        422,
        "A date the rules forbid for this movement (in the future, before the CPF, or before "
        "what the account already received).",
        "Give the real date of the event (retirement, physician's opinion).",
    ),
    "incomplete_attestation": (
        422,
        "A regularisation needs the signatory's name, the signature date and the stamp.",
        "Complete the attestation (`missing` lists what lacks).",
    ),
    "duplicate_line": (
        422,
        "The same decrement appears earlier in this file.",
        "Remove the repeated line; the first one is applied.",
    ),
    "body_too_large": (
        413,
        "The body is over its limit (1 MB; 200 MiB for files).",
        "Split the file, or send a smaller body.",
    ),
    "empty_file": (422, "The file sent is empty.", "Send the file as the request body."),
    "unknown_position": (
        422,
        "`min_position` is beyond the end of the log.",
        "Pass the `position` a write returned.",
    ),
    # not found (or outside the caller's scope: the same answer)
    "not_found": (404, "No such resource.", "Check the URL."),
    "agent_not_found": (
        404,
        "No such agent, or none in your scope, or the NIR and birth name do not match.",
        "Check the NIR and birth name; an agent appears in your scope once it has a line for "
        "your SIRET in year N−1 or N−2, or once your SIRET recorded a movement on it.",
    ),
    "establishment_not_found": (404, "No such establishment in your scope.", "Check the SIRET."),
    "user_not_found": (404, "No such user in this establishment.", "Check the user id."),
    "key_not_found": (404, "No such key.", "Check the key id."),
    "decrement_not_found": (404, "No such decrement on this agent.", "Check the decrement id."),
    "delegation_not_found": (404, "No such delegation.", "A centraliser asks first."),
    "deposit_not_found": (404, "No such deposit in your scope.", "Check the deposit id."),
    "campaign_not_found": (
        404,
        "No campaign was started with this file.",
        "Post the file to `/v1/campaigns`.",
    ),
    "regularisation_request_not_found": (
        404,
        "No such regularisation request in your scope.",
        "Check the request id.",
    ),
    "method_not_allowed": (405, "This path does not answer this method.", "See `Allow`."),
    # refused by the current state
    "insufficient_balance": (
        409,
        "The SIRET's undeclared-DIF reserve and the counter do not cover the decrement without "
        "anticipation. `needed` and `available` are given when you may see the agent.",
        "Decrement less, or flag an anticipation if the employer allows it.",
    ),
    "anticipation_limit_exceeded": (
        409,
        "An anticipation may not take the counter below −2 × the yearly rate (`floor`).",
        "Decrement less.",
    ),
    "anticipation_after_closure": (
        409,
        "The account is closed: no rights remain to be acquired, so no anticipation.",
        "Decrement within the balance.",
    ),
    "account_closed": (
        409,
        "The account is closed (retirement): no credit, no use (after an invalidity retirement, "
        "use within the balance remains possible).",
        "Nothing to do on this account.",
    ),
    "acquisition_line_conflict": (
        409,
        "A line for this year and SIRET was already recorded with other hours.",
        "Ask for a regularisation.",
    ),
    "regularisation_above_full_year": (
        409,
        "It would take the year's credit above what a full year credits (from the counter at "
        "the year's first credit).",
        "Correct by the hours the year really lacks.",
    ),
    "regularisation_too_large": (
        409,
        "It would take the year's credit below zero.",
        "Correct by at most what the year was credited.",
    ),
    "regularisation_already_decided": (409, "The request was already decided.", "None."),
    "retroactive_declaration": (
        409,
        "Low qualification applies from the year declared, never to a year already credited.",
        "Declare it from the next year not yet credited.",
    ),
    "low_qualification_already_declared": (409, "Already declared.", "None."),
    "dif_already_converted": (409, "The DIF hours were already converted.", "None."),
    "dif_reserve_already_declared": (
        409,
        "This SIRET already declared an undeclared-DIF reserve for this agent.",
        "None: one declaration per agent and SIRET.",
    ),
    "decrement_already_cancelled": (409, "The decrement is already cancelled.", "None."),
    "inaptitude_limit_exceeded": (
        409,
        "Inaptitude credits are limited to 150 h in a career.",
        "Credit at most what remains.",
    ),
    "agent_already_registered": (409, "This agent is already registered.", "Look it up."),
    "establishment_already_registered": (409, "Already registered.", "None."),
    "delegation_conflict": (409, "The delegation is not in a state that allows this.", "None."),
    "siret_out_of_scope": (
        409,
        "A line of the file names a SIRET you do not act for.",
        "Deposit lines of your establishments only.",
    ),
    "identity_mismatch": (409, "The identity presented does not match.", "Check it."),
    "invalid_attestation_scan": (
        422,
        "The signed attestation's scan is not a whole PDF, PNG or JPEG file of 5 MiB at most "
        "(told by its content, not its name).",
        "Scan the signed and stamped attestation again, as PDF, PNG or JPEG.",
    ),
    "attestation_scan_altered": (
        422,
        "The scan kept for this request is missing, or differs from the one sent (its SHA-256 "
        "is recorded with the request): it is not shown.",
        "Report it: the store was changed outside the service; the request's digest proves "
        "which scan was sent.",
    ),
    "invalid_form": (
        422,
        "A console form's fields are not valid (the fields are named, their values never "
        "repeated).",
        "Correct the fields named and send the form again.",
    ),
    "idempotency_conflict": (
        409,
        "This Idempotency-Key was already used for another request.",
        "Use a new key for a new request; resend the same body to replay the first answer.",
    ),
    "concurrent_update": (
        409,
        "The agent kept changing under concurrent writes.",
        "Retry (with the same Idempotency-Key).",
    ),
    "rebuild_running": (409, "A rebuild is already running here.", "Wait for it to finish."),
    "chain_broken": (
        409,
        "The audit chain is broken: no checkpoint is signed over it.",
        "Run `cpf-ledger audit verify` and investigate the first break.",
    ),
    # the service
    "store_unavailable": (
        503,
        "The store is unavailable or busy.",
        "Retry after `Retry-After` seconds.",
    ),
    "views_behind": (
        503,
        "The views have not caught up with `min_position` yet.",
        "Retry shortly.",
    ),
    "not_ready": (503, "The service is not ready: `detail` says why.", "Retry; alert if it lasts."),
    "internal_error": (500, "An unexpected error (logged with its request id).", "Report it."),
    "http_error": (400, "An HTTP-level error.", "Read `detail`."),
    "domain_error": (409, "A rule refused the command.", "Read `detail`."),
}

router = APIRouter(tags=["operations"], include_in_schema=False)


@router.get("/problems", response_class=HTMLResponse)
async def problem_index() -> HTMLResponse:
    items = "".join(
        f'<li><a href="/problems/{code}">{code}</a> ({status})</li>'
        for code, (status, _, _) in sorted(PROBLEM_TYPES.items())
    )
    return HTMLResponse(_page("Problem types", f"<ul>{items}</ul>"))


@router.get("/problems/{code}", response_class=HTMLResponse)
async def problem_type(code: str) -> HTMLResponse:
    """What a problem type means, and what to do about it."""
    if code not in PROBLEM_TYPES:
        raise ApiProblem(404, "not_found", "no such problem type")
    status, meaning, action = PROBLEM_TYPES[code]
    body = (
        f"<p>HTTP status: <strong>{status}</strong></p>"
        f"<h2>What it means</h2><p>{html.escape(meaning)}</p>"
        f"<h2>What to do</h2><p>{html.escape(action)}</p>"
        '<p><a href="/problems">All problem types</a></p>'
    )
    return HTMLResponse(_page(code, body))


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} — CPF Ledger</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
