"""People's accounts, activation, sessions and habilitation files: request and response bodies.

Secrets (an activation code, a second factor's secret, recovery codes) appear in the one
response that creates them, never again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.access.schemas import Me
from api.schemas import FileRunSummary, Input
from ledger.domain.access import Profile

Email = Field(min_length=3, max_length=254, description="The person's e-mail address")
Password = Field(min_length=1, max_length=256)


class AccountIn(Input):
    name: str = Field(min_length=1, max_length=200)
    email: str = Email
    role: Literal["employer", "operator", "auditor"] = "employer"
    siret: str | None = Field(
        default=None, min_length=14, max_length=20, description="An employer's establishment"
    )
    profile: Profile | None = Field(default=None, description="A new employer user's profile")
    user_id: str | None = Field(
        default=None,
        max_length=64,
        description="An existing user of the establishment, to give an account to",
    )


class ActivationOut(BaseModel):
    expires_at: str
    code: str | None = Field(
        description="The one-time code, shown once when it was not e-mailed (null otherwise, "
        "and when a request is replayed)"
    )
    sent_to: str | None = Field(description="Where the code was e-mailed")


class AccountOut(BaseModel):
    user_id: str
    role: str
    name: str
    email: str
    siret: str | None
    profile: str | None
    status: Literal["pending", "active", "inactive", "removed"]
    activation_expires_at: str | None
    last_login: str | None


class EnabledOut(AccountOut):
    activation: ActivationOut


class ResetOut(BaseModel):
    user_id: str
    activation: ActivationOut


class EnrolmentIn(Input):
    email: str = Email
    code: str = Field(min_length=1, max_length=64, description="The activation code")


class EnrolmentOut(BaseModel):
    secret: str = Field(description="The second factor's secret (base32), shown once")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as a QR code (SVG) for an authenticator")


class ActivationIn(EnrolmentIn):
    password: str = Password
    totp: str = Field(min_length=6, max_length=10, description="A code from the new factor")


class RecoveryOut(BaseModel):
    user_id: str
    recovery_codes: list[str] = Field(description="Each usable once instead of a TOTP code")


class LoginIn(Input):
    email: str = Email
    password: str = Password
    second_factor: str = Field(
        min_length=6, max_length=40, description="A TOTP code, or one of the recovery codes"
    )


class SessionOut(Me):
    user_id: str | None
    csrf_token: str = Field(description="Send it as X-CSRF-Token on every unsafe request")
    expires_at: str
    idle_expires_at: str


class PasswordChangeIn(Input):
    current_password: str = Password
    new_password: str = Password


class ReauthenticationIn(Input):
    password: str = Password


class RenewalIn(Input):
    password: str = Password
    totp: str = Field(min_length=6, max_length=10, description="A code from the new factor")


class UserFileLine(BaseModel):
    line: int
    status: Literal["applied", "rejected"]
    code: str | None = None
    message: str | None = None
    user_id: str | None = None
    email: str | None = None
    siret: str | None = None
    profile: str | None = None
    activation: ActivationOut | None = None


class UserFileOut(FileRunSummary):
    report: list[UserFileLine]
