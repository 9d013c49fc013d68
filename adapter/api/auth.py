"""Bearer tokens with roles, as FastAPI dependencies.

``Depends(require("billing", "his"))`` admits a caller holding any of the named roles;
a missing or unknown token is 401, a known token without the role is 403. Each refusal is a
WARNING line (``api.token_refused``, ``api.role_refused``) saying why, with the token's hint
(its last four characters, as ``wi-adapter token list`` shows them; never the token) or the
caller, so IT can tell a HIS with a revoked token from one sending none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapter.api.deps import EngineDep
from adapter.store.tokens import ROLE_LABELS, Principal, authenticate

log = logging.getLogger("adapter.api")

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


def current_principal(
    request: Request,
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        _refused(request, "api.token_refused", reason="missing")
        raise HTTPException(401, "请提供访问令牌（Authorization: Bearer <令牌>）")
    principal = authenticate(engine, credentials.credentials)
    if principal is None:
        hint = credentials.credentials[-4:]
        _refused(request, "api.token_refused", reason="unknown_or_revoked", hint=hint)
        raise HTTPException(401, "访问令牌无效或已吊销")
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting callers that hold any of ``roles`` (none given: any role)."""

    def dependency(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if roles and not principal.roles.intersection(roles):
            _refused(
                request,
                "api.role_refused",
                caller=principal.name,
                roles=sorted(principal.roles),
                needed=sorted(roles),
            )
            wanted = "、".join(ROLE_LABELS.get(r, r) for r in roles)
            raise HTTPException(403, f"该操作需要以下角色之一：{wanted}")
        return principal

    return dependency


def _refused(request: Request, event: str, **fields: object) -> None:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    client = request.client.host if request.client else ""
    log.warning(event, extra={**fields, "route": path, "client": client})
