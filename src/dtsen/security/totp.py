"""The TOTP second factor (RFC 6238, 30-second steps, 6 digits) of every staff account, with pyotp.

A code is accepted in the step it was made for and one step either side (clock drift), and only
once: the step of the last accepted code is stored and no code of that step or earlier is
accepted again (replay).
"""

from __future__ import annotations

import datetime as dt
import hmac

import pyotp

STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def code_at(secret: str, when: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def accept(secret: str, code: str, now: dt.datetime, last_step: int | None) -> int | None:
    """The step `code` belongs to, if it is valid now and newer than `last_step`; else None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
