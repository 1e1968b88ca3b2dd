"""People's bearer tokens (JWT): which key verifies them, and how the CLI
issues one for development."""

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from app.core.settings import MIN_JWT_SECRET_BYTES, Settings

log = logging.getLogger("tasklogs.auth")


@dataclass(frozen=True)
class VerificationKey:
    key: str
    algorithms: list[str]
    can_sign: bool  # a shared secret signs too; a public key only verifies


def dev_secret_path(settings: Settings) -> Path | None:
    path = settings.sqlite_path
    return path.with_name(path.name + ".jwt-secret") if path is not None else None


def verification_key(settings: Settings, *, create_dev_secret: bool = True) -> VerificationKey | None:
    """The configured secret, else the configured public key, else (embedded
    SQLite only) a development secret kept in a 0600 file beside the database."""
    if settings.jwt_secret is not None:
        return VerificationKey(settings.jwt_secret.get_secret_value(), ["HS256"], True)
    if settings.jwt_public_key:
        return VerificationKey(settings.jwt_public_key, ["RS256", "ES256"], False)
    path = dev_secret_path(settings)
    if path is None:
        return None
    if not path.exists():
        if not create_dev_secret:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process (a worker, `tasklogs token`) made it first
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
            log.info("generated a development JWT secret in %s", path)
    if path.stat().st_mode & 0o077:
        raise RuntimeError(
            f"The development JWT secret {path} is readable by group or others: anyone who can read it can "
            f"sign tokens. Make it private (`chmod 600 {path}`) or delete it to have a new one made."
        )
    secret = path.read_text().strip()
    if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        raise RuntimeError(
            f"The development JWT secret {path} is shorter than {MIN_JWT_SECRET_BYTES} bytes: "
            "delete it to have a new one made."
        )
    return VerificationKey(secret, ["HS256"], True)


def issue_token(settings: Settings, employee_id: int, company_id: int, *, hours: float = 1.0) -> str:
    key = verification_key(settings)
    if key is None or not key.can_sign:
        raise RuntimeError("No signing secret: set TASKLOGS_JWT_SECRET (a public key can only verify).")
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": str(employee_id),
        "company_id": company_id,
        "iat": now,
        "exp": now + timedelta(hours=hours),
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, key.key, algorithm="HS256")


class TokenError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def decode_token(token: str, key: VerificationKey, settings: Settings) -> dict[str, object]:
    try:
        return jwt.decode(
            token,
            key.key,
            algorithms=key.algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
            options={"require": ["exp", "sub"], "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("TOKEN_EXPIRED", "The access token has expired.") from exc
    except jwt.MissingRequiredClaimError as exc:
        # exc.claim is one of the names we required, not text from the token.
        raise TokenError("INVALID_ACCESS_TOKEN", f"The access token has no '{exc.claim}' claim.") from exc
    except jwt.PyJWTError as exc:
        # Our own words only: the library's messages may quote the token or
        # internals ("Expected one of <generator object ... at 0x...>").
        raise TokenError("INVALID_ACCESS_TOKEN", _REASONS.get(type(exc), "The access token is invalid.")) from exc


_REASONS: dict[type[Exception], str] = {
    jwt.InvalidSignatureError: "The access token's signature does not verify.",
    jwt.DecodeError: "The access token is not a well-formed JWT.",
    jwt.InvalidAlgorithmError: "The access token is signed with an algorithm this service does not accept.",
    jwt.InvalidAudienceError: "The access token is for another audience.",
    jwt.InvalidIssuerError: "The access token is from another issuer.",
    jwt.ImmatureSignatureError: "The access token is not valid yet.",
    jwt.InvalidIssuedAtError: "The access token's issue time is invalid.",
}
