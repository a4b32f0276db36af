"""Who may call the API: an optional check of each caller's bearer token (params.yaml
`serve.auth`, off by default).

Locally the API listens on 127.0.0.1 only, and in the cloud the platform authenticates
callers before they reach it (deploy/<cloud>/README.md). Teams that want the API itself to
verify too, or that serve it where nothing in front does, turn this on: every route but the
probes' (`open_paths`) then needs `Authorization: Bearer <JWT>`, signed by a key the issuer
publishes (its JWKS, fetched and cached by PyJWT), unexpired, from the configured issuer and
for the configured audience. Anything else is a 401 whose body says why, in one line.
"""

from __future__ import annotations

import jwt
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from ..security import AuthSettings
from .responses import json_response

JWKS_TIMEOUT_SECONDS = 5  # a slow issuer holds a worker thread no longer than this
JWKS_CACHE_SECONDS = 300  # how long fetched keys are trusted before the JWKS is read again
REQUIRED_CLAIMS = ["exp", "iss", "aud"]


class KeysUnavailable(RuntimeError):
    """The issuer's keys cannot be fetched: the API cannot tell, so it does not answer."""


class BearerCheck:
    """Verifies bearer tokens against the issuer's published keys."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.keys = jwt.PyJWKClient(
            settings.jwks_url, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_TIMEOUT_SECONDS
        )

    def refusal(self, authorization: str | None) -> str | None:
        """Why a request with this Authorization header may not call the API, in one line
        (None: it may). Blocks while the keys are fetched; raises KeysUnavailable."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing bearer token: send Authorization: Bearer <token>"
        s = self.settings
        try:
            key = self.keys.get_signing_key_from_jwt(token.strip())
            jwt.decode(
                token.strip(),
                key.key,
                algorithms=s.algorithms,
                audience=s.audience,
                issuer=s.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWKClientConnectionError as error:
            raise KeysUnavailable(f"cannot read the issuer's keys at {s.jwks_url}") from error
        except jwt.PyJWKClientError:
            return "token signed by a key the issuer does not publish"
        except jwt.ExpiredSignatureError:
            return "token expired"
        except jwt.InvalidAudienceError:
            return f"token is not for this API (audience {s.audience})"
        except jwt.InvalidIssuerError:
            return f"token is not from the trusted issuer {s.issuer}"
        except jwt.InvalidSignatureError:
            return "token signature does not verify with the issuer's key"
        except jwt.MissingRequiredClaimError as error:
            return f"token lacks the {error.claim} claim"
        except jwt.InvalidTokenError as error:
            return f"invalid token: {error}"
        return None


class RequireBearer:
    """ASGI middleware: a request to any route but `open_paths` passes only with a token
    BearerCheck accepts; else 401 (503 while the issuer's keys cannot be read)."""

    def __init__(self, app: ASGIApp, check: BearerCheck) -> None:
        self.app = app
        self.check = check
        self.open_paths = frozenset(check.settings.open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        header = given.decode("latin-1") if given is not None else None
        try:  # fetching the keys is blocking I/O: not on the event loop
            refusal = await run_in_threadpool(self.check.refusal, header)
        except KeysUnavailable as error:
            response = json_response({"detail": str(error)}, 503, {"Retry-After": "10"})
            await response(scope, receive, send)
            return
        if refusal is None:
            await self.app(scope, receive, send)
            return
        # RFC 6750: no error code when no token was sent, invalid_token when one was.
        challenge = "Bearer" if given is None else 'Bearer error="invalid_token"'
        response = json_response({"detail": refusal}, 401, {"WWW-Authenticate": challenge})
        await response(scope, receive, send)
