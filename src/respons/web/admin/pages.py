"""Registry pages for municipality administrators (and the host administrator)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from respons.domain.access import Role
from respons.web.access import Principal
from respons.web.pages import page_access, render

router = APIRouter(prefix="/admin", include_in_schema=False)

registry_admin = page_access(Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN)


@router.get("/registry")
def registry_home(request: Request, principal: Principal = Depends(registry_admin)):
    return render(request, "admin/home.html")
