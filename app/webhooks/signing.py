"""Standard Webhooks signatures: `v1,<base64 of HMAC-SHA256(key,
"{id}.{timestamp}.{body}")>`, the key being the base64-decoded part of the
secret after `whsec_`. Several secrets (during a rotation) give several
signatures, separated by spaces."""

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, no secret itself


def signature_header(secrets: list[str], event_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{event_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode() for s in secrets
    )


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
