"""Bearer tokens with roles, as FastAPI dependencies.

``Depends(require("billing", "his"))`` admits a caller holding any of the named roles;
a missing or unknown token is 401, a known token without the role is 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapter.api.deps import EngineDep
from adapter.store.tokens import ROLE_LABELS, Principal, authenticate

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


def current_principal(
    request: Request,
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "请提供访问令牌（Authorization: Bearer <令牌>）")
    principal = authenticate(engine, credentials.credentials)
    if principal is None:
        raise HTTPException(401, "访问令牌无效或已吊销")
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting callers that hold any of ``roles`` (none given: any role)."""

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if roles and not principal.roles.intersection(roles):
            wanted = "、".join(ROLE_LABELS.get(r, r) for r in roles)
            raise HTTPException(403, f"该操作需要以下角色之一：{wanted}")
        return principal

    return dependency
