"""The operator console: the live queue, the alarm card and the operator's actions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from respons.domain.access import Role
from respons.web.access import Principal
from respons.web.pages import page_access, render

router = APIRouter(prefix="/console", include_in_schema=False)

operator_page = page_access(Role.OPERATOR)


@router.get("")
def console(request: Request, principal: Principal = Depends(operator_page)):
    return render(request, "console/console.html")
