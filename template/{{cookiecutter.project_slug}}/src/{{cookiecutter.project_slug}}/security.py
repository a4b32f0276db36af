"""The security settings (params.yaml `serve.auth`, `serve.trusted_signers` and `sign`):
who may call the API and who may sign the models that are loaded. config.py's Settings
holds them; they are apart so that the stages which check them need nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator


class AuthSettings(BaseModel):
    """The API's own bearer-token check (serving/auth.py), off by default: in the cloud the
    platform authenticates callers before they reach it (deploy/<cloud>/README.md)."""

    enabled: bool = False
    issuer: str = Field(default="", description="The `iss` every token must carry.")
    audience: str = Field(default="", description="The `aud` every token must carry: this API.")
    jwks_url: str = Field(default="", description="Where the issuer publishes its signing keys.")
    algorithms: list[str] = Field(default=["RS256"], description="Signature algorithms accepted.")
    open_paths: list[str] = Field(
        default=["/health", "/ready"], description="Routes answered without a token: the probes."
    )

    @model_validator(mode="after")
    def _complete(self) -> AuthSettings:
        missing = [k for k in ("issuer", "audience", "jwks_url") if not getattr(self, k)]
        if self.enabled and missing:
            raise ValueError(f"{', '.join(missing)} must be set when enabled")
        return self


class TrustedSigner(BaseModel):
    """Who may sign the models the API and CD load (registry/provenance.py): a public key
    (the project's own offline key pair), or a keyless Sigstore identity and the OIDC
    issuer that vouches for it (a CI workflow)."""

    model_config = {"extra": "forbid"}

    public_key: Path | None = None
    identity: str | None = Field(
        default=None, description="The signing certificate's identity, e.g. a workflow's URL."
    )
    issuer: str | None = Field(default=None, description="The identity's OIDC issuer.")

    @model_validator(mode="after")
    def _one_kind(self) -> TrustedSigner:
        half = (self.identity is None) != (self.issuer is None)
        keyless = self.identity is not None and self.issuer is not None
        if half or (self.public_key is not None) == keyless:
            raise ValueError("give either public_key, or both identity and issuer")
        return self

    def __str__(self) -> str:
        return str(self.public_key) if self.public_key else f"{self.identity} ({self.issuer})"


class SignSettings(BaseModel):
    """How CT signs what it promotes (registry/provenance.py)."""

    method: Literal["key", "sigstore"] = Field(
        default="key",
        description="key: the project's key pair (offline); sigstore: keyless, with the CI "
        "runner's OIDC identity.",
    )
    private_key: Path = Field(
        default=Path("keys/model-signing.key"),
        description="The key pair's private half (git-ignored; its public half beside it, .pub).",
    )
