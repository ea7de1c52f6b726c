"""Registry pages for municipality administrators (and the host administrator).

The pages are a thin layer over ``registry/service.py``, the same units of work as the JSON
API: validation, scope and audit are decided there, once. A municipality administrator
works in their own municipality; the host administrator chooses one. Anything outside the
caller's municipalities answers 404, like a missing page (no existence oracle), and the
scope is checked before a form is even read, so an invalid form cannot tell either.

Forms are posted with htmx (the CSRF token rides on ``<body hx-headers>``). A refused
form comes back re-rendered with 422 (409 for a duplicate): the typed values kept, the
engine's message beside each field and in a summary at the top, said in the reader's language
from the name the engine gives it (``registry/problems.py``). A saved form answers with
``HX-Redirect`` to the record's page or the list.

Opening one recipient's page is an audited read (``service.read_recipient``); the lists
and the completeness report show names only, never national ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from respons.clock import OSLO
from respons.domain.access import Role
from respons.registry import service
from respons.web import i18n, labels
from respons.web.access import Principal
from respons.registry import words  # noqa: F401  (registers the registry pages' i18n keys)
from respons.registry.problems import conflict_text, problem_text
from respons.web.bounds import INT_MAX, INT_MIN, SMALLINT_MAX, DbId
from respons.web.pages import PageRefused, done, page_access, render
from respons.web.runtime import runtime

router = APIRouter(prefix="/admin/registry", include_in_schema=False)

registry_admin = page_access(Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN)

RECIPIENT_FIELDS = ("given_name", "family_name", "national_id", "phone", "address", "postal_code", "city", "zone_id",
                    "latitude", "longitude", "key_box", "language", "response_notes", "active")
CONTACT_FIELDS = ("name", "relation", "phone", "priority", "receives_alarms", "notes")
DEVICE_FIELDS = ("kind", "protocol", "identity", "recipient_id", "heartbeat_interval_s", "heartbeat_grace_s",
                 "voice_uri", "video_source", "network")
ZONE_FIELDS = ("code", "name")
STAFF_FIELDS = ("name", "role", "competence", "phone", "zone_id", "hpr_number")

# A duplicate is a problem with one field; the engine names the conflict, we point at the field.
CONFLICT_FIELDS = {"duplicate_national_id": "national_id", "duplicate_device": "identity", "duplicate_zone": "code"}


# --- the form a page shows ---------------------------------------------------------------------


@dataclass
class Form:
    """A form's values (as typed, kept when refused) and its problems, per field."""

    prefix: str  # keeps ids unique when a page holds two forms
    fields: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)

    def id(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def value(self, name: str) -> str:
        value = self.values.get(name)
        return "" if value is None else str(value)

    def checked(self, name: str) -> bool:
        return self.values.get(name) in ("1", "on", True)

    def errors(self, name: str) -> list[str]:
        return [p["problem"] for p in self.problems if p["field"] == name]

    def aria(self, name: str, hint: str | None = None) -> Markup:
        """``aria-describedby`` (hint, error) and ``aria-invalid`` for one input."""
        described = [self.id(name) + "-hint"] if hint else []
        if self.errors(name):
            described.append(self.id(name) + "-error")
        attrs = f' aria-describedby="{" ".join(described)}"' if described else ""
        if self.errors(name):
            attrs += ' aria-invalid="true"'
        return Markup(attrs)

    def summary(self) -> list[tuple[str | None, str]]:
        """(anchor of the field or None, message) for the list at the top of the form."""
        return [(self.id(p["field"]) if p["field"] in self.fields else None, p["problem"]) for p in self.problems]


def _typed(data, names: tuple[str, ...]) -> dict[str, str]:
    """The last value sent for each field present (a checkbox's "1" follows its hidden "0")."""
    return {name: str(data.getlist(name)[-1]) for name in names if data.getlist(name)}


def _choice(raw: str, name: str, problems: list, t) -> int | None:
    """The id from a select: empty is none, anything else must be a number."""
    if not raw.strip():
        return None
    try:
        chosen = int(raw)
    except ValueError:
        chosen = 0
    if not 1 <= chosen <= INT_MAX:  # an id beyond the column's range names no row (and overflows)
        problems.append({"field": name, "problem": t("admin.problem.choice")})
        return None
    return chosen


def _decimal(raw: str, name: str, problems: list, t) -> float | None:
    """Coordinates as people type them in Norway: a decimal comma is fine."""
    if not raw.strip():
        return None
    try:
        return float(raw.strip().replace(",", "."))
    except ValueError:
        problems.append({"field": name, "problem": t("admin.problem.number")})
        return None


def _whole(raw: str, largest: int = INT_MAX) -> int | str | None:
    """A whole number the column can hold, or the text as typed: the engine refuses it with its
    own message (as the API's bounds do before it: web/bounds.py)."""
    if not raw.strip():
        return None
    try:
        number = int(raw.strip())
    except ValueError:
        return raw
    return number if INT_MIN <= number <= largest else raw


def _engine_values(typed: dict[str, str], t) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Turn typed strings into the engine's types. Only conversions here: validation is the engine's."""
    values: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for name, raw in typed.items():
        if name in ("zone_id", "recipient_id"):
            values[name] = _choice(raw, name, problems, t)
        elif name in ("latitude", "longitude"):
            values[name] = _decimal(raw, name, problems, t)
        elif name == "priority":
            values[name] = _whole(raw, SMALLINT_MAX)
        elif name in ("heartbeat_interval_s", "heartbeat_grace_s"):
            values[name] = _whole(raw)
        elif name in ("active", "receives_alarms"):
            values[name] = raw in ("1", "on")
        else:
            values[name] = raw
    return values, problems


# --- running the engine ------------------------------------------------------------------------


def _allowed(principal: Principal) -> frozenset[int] | None:
    return None if principal.scope.all_municipalities else principal.scope.registry


def _today(request: Request) -> date:
    return runtime(request).clock().astimezone(OSLO).date()


def _t(request: Request):
    return i18n.translator(i18n.language_of(request))


def _read(request: Request, work: Callable[[Connection], Any]) -> Any:
    with runtime(request).engine.connect() as conn:
        try:
            return work(conn)
        except service.NotFound:
            raise PageRefused(404, "error.404") from None


@dataclass
class Saved:
    id: Any = None
    status: int = 200
    problems: list[dict[str, str]] = field(default_factory=list)


async def _run(request: Request, work: Callable[[Connection], Any]) -> Any:
    """Run a unit of work (a change, or an audited read) through the journal. A journal
    that did not commit is answered by the app's handler (web/unavailable.py)."""
    try:
        return await runtime(request).journal.run(work)
    except service.NotFound:
        raise PageRefused(404, "error.404") from None


async def _save(request: Request, work: Callable[[Connection], Any]) -> Saved:
    """Run a change; a refusal becomes the problems to show in the form."""
    try:
        return Saved(await _run(request, work))
    except service.Invalid as exc:
        t = _t(request)
        return Saved(status=422, problems=[{"field": p.field_name, "problem": problem_text(t, p)} for p in exc.named])
    except service.Conflict as exc:
        return Saved(status=409, problems=[{"field": CONFLICT_FIELDS.get(exc.code, ""),
                                            "problem": conflict_text(_t(request), exc)}])
    except IntegrityError:
        return Saved(status=409, problems=[{"field": "", "problem": _t(request)("admin.form.conflict")}])



def _work_in_municipality(request: Request, principal: Principal, municipality_id: int) -> dict[str, Any]:
    """The municipality (404 outside the caller's scope) and what every page around it shows."""
    allowed = _allowed(principal)
    municipality = _read(request, lambda conn: service.get_municipality(conn, municipality_id, allowed))
    return {
        "municipality": municipality,
        "base": f"/admin/registry/{municipality_id}",
        # The host administrator, or someone administering several, can change municipality.
        "can_choose": allowed is None or len(allowed) > 1,
    }


def _zones(request: Request, principal: Principal, municipality_id: int) -> list[dict]:
    return _read(request, lambda conn: service.list_zones(conn, municipality_id=municipality_id, allowed=_allowed(principal)))


def _zone_options(request: Request, principal: Principal, municipality_id: int) -> list[tuple[int, str]]:
    """(id, label) for a zone select."""
    return [(z["id"], f"{z['code']} – {z['name']}") for z in _zones(request, principal, municipality_id)]


# --- overview ----------------------------------------------------------------------------------


@router.get("")
def registry_home(request: Request, principal: Principal = Depends(registry_admin)):
    """One municipality: straight to its overview. Several (or all): choose one."""
    allowed = _allowed(principal)
    if allowed is not None and len(allowed) == 1:
        return _overview(request, principal, next(iter(allowed)))
    municipalities = [m for m in _read(request, service.list_municipalities) if allowed is None or m["id"] in allowed]
    return render(request, "admin/choose.html", municipalities=municipalities)


@router.get("/{municipality_id}")
def overview(request: Request, municipality_id: DbId, principal: Principal = Depends(registry_admin)):
    return _overview(request, principal, municipality_id)


def _overview(request: Request, principal: Principal, municipality_id: int):
    frame = _work_in_municipality(request, principal, municipality_id)
    allowed = _allowed(principal)
    counts = _read(request, lambda conn: service.registry_counts(conn, municipality_id=municipality_id, allowed=allowed))
    incomplete = _read(request, lambda conn: service.completeness(conn, municipality_id=municipality_id, allowed=allowed))
    return render(request, "admin/home.html", section="overview", counts=counts, incomplete=len(incomplete), **frame)


# --- recipients --------------------------------------------------------------------------------


@router.get("/{municipality_id}/recipients")
def recipients(request: Request, municipality_id: DbId, q: str = "", principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    found = _read(request, lambda conn: service.list_recipients(conn, municipality_id=municipality_id,
                                                                allowed=_allowed(principal), search=q[:100]))
    return render(request, "admin/recipients.html", section="recipients", recipients=found, q=q, **frame)


@router.get("/{municipality_id}/recipients/new")
def new_recipient(request: Request, municipality_id: DbId, principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    form = Form("r", RECIPIENT_FIELDS, {"language": "nb"})
    return render(request, "admin/recipient_new.html", section="recipients", form=form,
                  zone_options=_zone_options(request, principal, municipality_id), **frame)


@router.post("/{municipality_id}/recipients")
async def create_recipient(request: Request, municipality_id: DbId, principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    typed = _typed(await request.form(), RECIPIENT_FIELDS)
    values, problems = _engine_values(typed, _t(request))
    saved = Saved(status=422, problems=problems)
    if not problems:
        now, today = runtime(request).clock(), _today(request)
        saved = await _save(request, lambda conn: service.create_recipient(
            conn, values, municipality_id=municipality_id, allowed=_allowed(principal), now=now, today=today,
            actor=principal.actor))
    if saved.problems:
        form = Form("r", RECIPIENT_FIELDS, typed, saved.problems)
        return render(request, "admin/_recipient_form.html", status_code=saved.status, form=form,
                      action=f"{frame['base']}/recipients", editing=False, zone_options=_zone_options(request, principal, municipality_id))
    return done(request, f"/admin/registry/recipients/{saved.id}?saved=1")


@router.get("/recipients/{recipient_id}")
async def recipient(request: Request, recipient_id: DbId, saved: str = "", principal: Principal = Depends(registry_admin)):
    """One recipient's full record: written to the audit log before it is shown."""
    now = runtime(request).clock()
    record = await _run(request, lambda conn: service.read_recipient(conn, recipient_id, allowed=_allowed(principal), now=now,
                                                                      actor=principal.actor))
    municipality_id = record["municipality_id"]
    frame = _work_in_municipality(request, principal, municipality_id)
    return render(
        request, "admin/recipient.html", section="recipients", record=record, saved=bool(saved),
        gaps=service.record_gaps(record), form=Form("r", RECIPIENT_FIELDS, _record_values(record)),
        contact_form=Form("c", CONTACT_FIELDS, {"priority": len(record["contacts"]) + 1}),
        zone_options=_zone_options(request, principal, municipality_id), **frame,
    )


def _record_values(record: dict[str, Any]) -> dict[str, Any]:
    values = {name: record.get(name) for name in RECIPIENT_FIELDS}
    values["active"] = "1" if record["active"] else "0"
    return values


@router.post("/recipients/{recipient_id}")
async def update_recipient(request: Request, recipient_id: DbId, principal: Principal = Depends(registry_admin)):
    """Changes the fields sent (the page sends them all), like the API's PATCH."""
    allowed = _allowed(principal)
    municipality_id = _read(request, lambda conn: service.recipient_municipality(conn, recipient_id, allowed))
    typed = _typed(await request.form(), RECIPIENT_FIELDS)
    values, problems = _engine_values(typed, _t(request))
    saved = Saved(status=422, problems=problems)
    if not problems:
        now, today = runtime(request).clock(), _today(request)
        saved = await _save(request, lambda conn: service.update_recipient(
            conn, recipient_id, values, allowed=allowed, now=now, today=today, actor=principal.actor))
    if saved.problems:
        form = Form("r", RECIPIENT_FIELDS, typed, saved.problems)
        return render(request, "admin/_recipient_form.html", status_code=saved.status, form=form,
                      action=f"/admin/registry/recipients/{recipient_id}", editing=True,
                      zone_options=_zone_options(request, principal, municipality_id))
    return done(request, f"/admin/registry/recipients/{recipient_id}?saved=1")


@router.post("/recipients/{recipient_id}/contacts")
async def add_contact(request: Request, recipient_id: DbId, principal: Principal = Depends(registry_admin)):
    allowed = _allowed(principal)
    _read(request, lambda conn: service.recipient_municipality(conn, recipient_id, allowed))
    typed = _typed(await request.form(), CONTACT_FIELDS)
    values, problems = _engine_values(typed, _t(request))
    saved = Saved(status=422, problems=problems)
    if not problems:
        now = runtime(request).clock()
        saved = await _save(request, lambda conn: service.add_contact(conn, recipient_id, values, allowed=allowed, now=now,
                                                                      actor=principal.actor))
    if saved.problems:
        form = Form("c", CONTACT_FIELDS, typed, saved.problems)
        return render(request, "admin/_contact_form.html", status_code=saved.status, contact_form=form,
                      action=f"/admin/registry/recipients/{recipient_id}/contacts")
    return done(request, f"/admin/registry/recipients/{recipient_id}?saved=1#contacts")


# --- devices, zones, staff ---------------------------------------------------------------------


@router.get("/{municipality_id}/devices")
def devices(request: Request, municipality_id: DbId, recipient_id: str = "", principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    # ``recipient_id`` preselects the recipient when coming from their page.
    form = Form("d", DEVICE_FIELDS, {"protocol": "http", "kind": "safety_alarm", "recipient_id": recipient_id})
    return _devices_page(request, principal, frame, form)


@router.post("/{municipality_id}/devices")
async def add_device(request: Request, municipality_id: DbId, principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    typed = _typed(await request.form(), DEVICE_FIELDS)
    saved = await _create_in(request, principal, municipality_id, typed, service.add_device)
    if saved.problems:
        return _devices_page(request, principal, frame, Form("d", DEVICE_FIELDS, typed, saved.problems),
                             template="admin/_device_form.html", status_code=saved.status)
    return done(request, f"{frame['base']}/devices?saved=1")


def _devices_page(request: Request, principal: Principal, frame: dict, form: Form, *,
                  template: str = "admin/devices.html", status_code: int = 200):
    municipality_id, allowed = frame["municipality"]["id"], _allowed(principal)
    found = _read(request, lambda conn: service.list_devices(conn, municipality_id=municipality_id, allowed=allowed))
    people = _read(request, lambda conn: service.list_recipients(conn, municipality_id=municipality_id, allowed=allowed))
    t = _t(request)
    # Kinds by name: routing rules and price models match on the code, so it is chosen, not
    # typed; a kind the register already holds (typed through the API) stays choosable.
    kinds = list(labels.DEVICE_KINDS) + [k for k in [form.value("kind")] if k and k not in labels.DEVICE_KINDS]
    return render(request, template, status_code=status_code, section="devices", devices=found, form=form,
                  action=f"{frame['base']}/devices",
                  protocol_options=[(p, labels.protocol(t, p)) for p in service.DEVICE_PROTOCOLS],
                  kind_options=[(k, labels.device_kind(t, k)) for k in kinds],
                  recipient_names={p["id"]: p["name"] for p in people},
                  recipient_options=[(p["id"], p["name"]) for p in people if p["active"]],
                  saved="saved" in request.query_params, **frame)


@router.get("/{municipality_id}/zones")
def zones(request: Request, municipality_id: DbId, principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    return _zones_page(request, principal, frame, Form("z", ZONE_FIELDS))


@router.post("/{municipality_id}/zones")
async def add_zone(request: Request, municipality_id: DbId, principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    typed = _typed(await request.form(), ZONE_FIELDS)
    saved = await _create_in(request, principal, municipality_id, typed, service.add_zone)
    if saved.problems:
        return _zones_page(request, principal, frame, Form("z", ZONE_FIELDS, typed, saved.problems),
                           template="admin/_zone_form.html", status_code=saved.status)
    return done(request, f"{frame['base']}/zones?saved=1")


def _zones_page(request: Request, principal: Principal, frame: dict, form: Form, *,
                template: str = "admin/zones.html", status_code: int = 200):
    return render(request, template, status_code=status_code, section="zones", form=form, action=f"{frame['base']}/zones",
                  zones=_zones(request, principal, frame["municipality"]["id"]), saved="saved" in request.query_params,
                  **frame)


@router.get("/{municipality_id}/staff")
def staff(request: Request, municipality_id: DbId, principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    return _staff_page(request, principal, frame, Form("s", STAFF_FIELDS, {"role": "responder"}))


@router.post("/{municipality_id}/staff")
async def add_staff(request: Request, municipality_id: DbId, principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    typed = _typed(await request.form(), STAFF_FIELDS)
    saved = await _create_in(request, principal, municipality_id, typed, service.add_staff)
    if saved.problems:
        return _staff_page(request, principal, frame, Form("s", STAFF_FIELDS, typed, saved.problems),
                           template="admin/_staff_form.html", status_code=saved.status)
    return done(request, f"{frame['base']}/staff?saved=1")


def _staff_page(request: Request, principal: Principal, frame: dict, form: Form, *,
                template: str = "admin/staff.html", status_code: int = 200):
    municipality_id = frame["municipality"]["id"]
    people = _read(request, lambda conn: service.list_staff(conn, municipality_id=municipality_id, allowed=_allowed(principal)))
    zone_list = _zones(request, principal, municipality_id)
    return render(request, template, status_code=status_code, section="staff", staff=people, form=form,
                  action=f"{frame['base']}/staff",
                  role_options=[(r, _t(request)(f"admin.staff_role.{r}")) for r in service.STAFF_ROLES],
                  zone_options=[(z["id"], f"{z['code']} – {z['name']}") for z in zone_list],
                  zone_codes={z["id"]: z["code"] for z in zone_list}, saved="saved" in request.query_params, **frame)


async def _create_in(request: Request, principal: Principal, municipality_id: int, typed: dict[str, str], add) -> Saved:
    """Create a device, zone or staff member in the municipality with the engine's ``add``."""
    values, problems = _engine_values(typed, _t(request))
    if problems:
        return Saved(status=422, problems=problems)
    now = runtime(request).clock()
    return await _save(request, lambda conn: add(conn, values, municipality_id=municipality_id, allowed=_allowed(principal),
                                                 now=now, actor=principal.actor))


# --- completeness ------------------------------------------------------------------------------


@router.get("/{municipality_id}/completeness")
def completeness(request: Request, municipality_id: DbId, principal: Principal = Depends(registry_admin)):
    frame = _work_in_municipality(request, principal, municipality_id)
    allowed = _allowed(principal)
    report = _read(request, lambda conn: service.completeness(conn, municipality_id=municipality_id, allowed=allowed))
    counts = _read(request, lambda conn: service.registry_counts(conn, municipality_id=municipality_id, allowed=allowed))
    return render(request, "admin/completeness.html", section="completeness", report=report, total=counts["recipients"],
                  **frame)
