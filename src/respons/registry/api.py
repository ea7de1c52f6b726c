"""Registry administration over the API.

Municipality administrators manage their own municipality's recipients, contacts, devices,
zones and staff; the host administrator manages every municipality, and alone creates
municipalities and agreements. Every change is audited with the names of the changed fields;
reading one recipient's full record is audited (purpose "administration") before it is
returned. A resource outside the caller's registry scope answers 404, like a missing one.
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from respons.clock import OSLO
from respons.domain.access import Role
from respons.registry import service
from respons.web.access import Principal, access, not_found
from respons.web.errors import ErrorOut, error_response
from respons.web.bounds import DbId, DbInt, DbSmallInt, Text
from respons.web.runtime import runtime


router = APIRouter(prefix="/api/v1/registry", tags=["registry"])

registry_admin = access(Role.HOST_ADMIN, Role.MUNICIPALITY_ADMIN)
host_admin = access(Role.HOST_ADMIN)

ERRORS = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}}


# --- bodies ----------------------------------------------------------------------------------
# Types are kept loose where people type the value (national id, phone): the engine validates
# those and answers in Norwegian. Integers are bounded by their columns (web/bounds.py) and no
# further: the domain's own ranges (a priority of 1 or more, ...) are the engine's to say.


class RecipientFields(BaseModel):
    zone_id: DbId | None = None
    national_id: Text | None = Field(None, description="Fødselsnummer or D-number, 11 digits.")
    given_name: Text | None = None
    family_name: Text | None = None
    phone: Text | None = None
    address: Text | None = None
    postal_code: Text | None = None
    city: Text | None = None
    latitude: float | None = None
    longitude: float | None = None
    key_box: Text | None = None
    language: Text | None = None
    response_notes: Text | None = None
    active: bool | None = None


class RecipientIn(RecipientFields):
    municipality_id: DbId


class ContactIn(BaseModel):
    name: Text | None = None
    relation: Text | None = None
    phone: Text | None = None
    priority: DbSmallInt | None = Field(None, description="1 is called first.")
    receives_alarms: bool = False
    notes: Text | None = None


class DeviceIn(BaseModel):
    municipality_id: DbId
    recipient_id: DbId | None = None
    kind: Text = Field(examples=["safety_alarm"])
    protocol: Text = Field(examples=["http"], description="http, sia_dc09, scaip or mqtt.")
    identity: Text = Field(description="What the device calls itself: a serial number (http), the SIA account "
                          "(sia_dc09, 3–16 hex), the SCAIP controller id (scaip), the device id in the MQTT topic (mqtt).")
    heartbeat_interval_s: DbInt | None = Field(None, description="Expected time between heartbeats; supervision raises "
                                             "'lost contact' after interval + grace without a sign of life.")
    heartbeat_grace_s: DbInt | None = None
    dc09_key: Text | None = Field(None, description="SIA DC-09 AES key as 32/48/64 hex digits (encrypted accounts). "
                                 "Write-only: never shown again.")
    base_unit_id: DbId | None = Field(None, description="The base unit a peripheral reports through: its silence "
                                     "inhibits the peripheral's own lost-contact alarm.")
    voice_uri: Text | None = Field(None, examples=["sip:unit-4711@10.20.0.15"],
                                   description="Where the centre calls the unit back (its loudspeaker): a SIP URI "
                                   "(docs/voice.md).")
    video_source: Text | None = Field(None, examples=["rtp:20410/vp8", "rtsp://10.20.0.16/stream1"],
                                      description="A supervision camera's picture: rtp:<port>/vp8 or /h264 (the "
                                      "camera sends RTP to the gateway's port) or an rtsp:// address the gateway "
                                      "fetches (docs/supervision.md).")
    network: Text | None = Field(None, examples=["Telenor", "Telia basestasjon 4711"],
                                 description="The network the device reports through (an operator, a base station, "
                                 "an internet provider): when many devices fall silent at once, lost contact is "
                                 "grouped per municipality and network (docs/supervision-of-devices.md).")


class ZoneIn(BaseModel):
    municipality_id: DbId
    code: Text
    name: Text


class StaffIn(BaseModel):
    municipality_id: DbId
    name: Text
    role: Text = Field(examples=["responder"])
    competence: Text = Field(examples=["nurse"])
    phone: Text | None = None
    zone_id: DbId | None = None
    active: bool = True
    hpr_number: Text | None = Field(None, description="Helsepersonellregisteret's number, for the patient record.")


class MunicipalityIn(BaseModel):
    number: Text = Field(examples=["4204"])
    name: Text
    population: DbInt
    role: Text = "cooperating"
    centre_id: DbId | None = None
    organisation_number: Text | None = Field(None, examples=["963296746"],
                                             description="Enhetsregisteret's number, for the patient record.")


class WindowIn(BaseModel):
    service_model: DbSmallInt = Field(description="1 full response, 2 routing with backup, 3 routing only.")
    weekdays: Text = Field("1234567", description="ISO weekdays, Oslo time.")
    starts: time
    ends: time
    categories: list[Text]
    escalation_minutes: DbInt | None = Field(None, description="Required for service model 2.")
    device_kinds: list[Text] | None = Field(
        None, description="Only alarms from these device kinds (e.g. fall_sensor); none: every device.")


class AgreementIn(BaseModel):
    municipality_id: DbId
    valid_from: date
    valid_to: date | None = None
    notes: Text | None = None
    windows: list[WindowIn]


# --- helpers ---------------------------------------------------------------------------------


def _allowed(principal: Principal) -> frozenset[int] | None:
    return None if principal.scope.all_municipalities else principal.scope.registry


async def run_unit(request: Request, work: Callable) -> Any:
    """A registry change in one unit of work; its refusals as the API's answers (a Failure).
    Features that keep registry data (supervision plans) answer the same way through it."""
    rt = runtime(request)
    try:
        return await rt.journal.run(work)
    except service.NotFound as exc:
        raise not_found(exc.what) from None
    except service.Conflict as exc:
        return Failure(error_response(409, exc.code, exc.message))
    except service.Invalid as exc:
        return Failure(error_response(422, "invalid_registry_data", "Ugyldige opplysninger: " + str(exc), details=exc.problems))
    except IntegrityError:
        return Failure(error_response(409, "conflict", "Endringen kolliderer med en annen registrering."))


class Failure:
    """A refused change: the response to send."""

    def __init__(self, response):
        self.response = response


def read_only(request: Request, work: Callable) -> Any:
    with runtime(request).engine.connect() as conn:
        try:
            return work(conn)
        except service.NotFound as exc:
            raise not_found(exc.what) from None


def _oslo_today(request: Request) -> date:
    return runtime(request).clock().astimezone(OSLO).date()


# --- recipients ------------------------------------------------------------------------------


@router.get("/recipients", summary="List recipients (no national ids, addresses or notes)", responses=ERRORS)
def list_recipients(request: Request, municipality_id: DbId | None = Query(None), principal: Principal = Depends(registry_admin)):
    return read_only(request, lambda conn: service.list_recipients(conn, municipality_id=municipality_id, allowed=_allowed(principal)))


@router.get("/recipients/{recipient_id}", summary="One recipient's full record (audited read)", responses=ERRORS)
async def get_recipient(request: Request, recipient_id: Annotated[DbId, Path()], principal: Principal = Depends(registry_admin)):
    now = runtime(request).clock()
    return await run_unit(
        request, lambda conn: service.read_recipient(conn, recipient_id, allowed=_allowed(principal), now=now, actor=principal.actor)
    )


@router.post("/recipients", status_code=201, summary="Create a recipient", responses=ERRORS)
async def create_recipient(body: RecipientIn, request: Request, principal: Principal = Depends(registry_admin)):
    now, today = runtime(request).clock(), _oslo_today(request)
    values = body.model_dump(exclude={"municipality_id"}, exclude_unset=True)
    result = await run_unit(
        request,
        lambda conn: service.create_recipient(conn, values, municipality_id=body.municipality_id, allowed=_allowed(principal),
                                              now=now, today=today, actor=principal.actor),
    )
    if isinstance(result, Failure):
        return result.response
    return {"id": result, "municipality_id": body.municipality_id}


@router.patch("/recipients/{recipient_id}", summary="Change a recipient (only the fields sent)", responses=ERRORS)
async def update_recipient(body: RecipientFields, request: Request, recipient_id: Annotated[DbId, Path()],
                           principal: Principal = Depends(registry_admin)):
    now, today = runtime(request).clock(), _oslo_today(request)
    values = body.model_dump(exclude_unset=True)
    result = await run_unit(
        request,
        lambda conn: service.update_recipient(conn, recipient_id, values, allowed=_allowed(principal), now=now, today=today,
                                              actor=principal.actor),
    )
    if isinstance(result, Failure):
        return result.response
    return {"id": recipient_id, "changed": result}


# --- contacts and devices --------------------------------------------------------------------


@router.post("/recipients/{recipient_id}/contacts", status_code=201, summary="Add a contact person", responses=ERRORS)
async def add_contact(body: ContactIn, request: Request, recipient_id: Annotated[DbId, Path()], principal: Principal = Depends(registry_admin)):
    now = runtime(request).clock()
    values = body.model_dump()
    result = await run_unit(
        request, lambda conn: service.add_contact(conn, recipient_id, values, allowed=_allowed(principal), now=now, actor=principal.actor)
    )
    if isinstance(result, Failure):
        return result.response
    return {"id": result, "recipient_id": recipient_id}


@router.post("/devices", status_code=201, summary="Register a device", responses=ERRORS)
async def add_device(body: DeviceIn, request: Request, principal: Principal = Depends(registry_admin)):
    return await _create_in_municipality(request, body, principal, service.add_device, identity=body.identity)


@router.get("/devices", summary="List devices", responses=ERRORS)
def list_devices(request: Request, municipality_id: DbId | None = Query(None), principal: Principal = Depends(registry_admin)):
    return read_only(request, lambda conn: service.list_devices(conn, municipality_id=municipality_id, allowed=_allowed(principal)))


# --- zones and staff -------------------------------------------------------------------------


@router.post("/zones", status_code=201, summary="Create a zone", responses=ERRORS)
async def add_zone(body: ZoneIn, request: Request, principal: Principal = Depends(registry_admin)):
    return await _create_in_municipality(request, body, principal, service.add_zone)


@router.get("/zones", summary="List zones", responses=ERRORS)
def list_zones(request: Request, municipality_id: DbId | None = Query(None), principal: Principal = Depends(registry_admin)):
    return read_only(request, lambda conn: service.list_zones(conn, municipality_id=municipality_id, allowed=_allowed(principal)))


@router.post("/staff", status_code=201, summary="Add a staff member", responses=ERRORS)
async def add_staff(body: StaffIn, request: Request, principal: Principal = Depends(registry_admin)):
    return await _create_in_municipality(request, body, principal, service.add_staff)


async def _create_in_municipality(request: Request, body, principal: Principal, add, **shown):
    """Create a zone, staff member or device in ``body.municipality_id`` (404 outside scope)."""
    now = runtime(request).clock()
    values = body.model_dump(exclude={"municipality_id"})
    result = await run_unit(
        request,
        lambda conn: add(conn, values, municipality_id=body.municipality_id, allowed=_allowed(principal), now=now,
                         actor=principal.actor),
    )
    if isinstance(result, Failure):
        return result.response
    return {"id": result, "municipality_id": body.municipality_id, **shown}


@router.get("/staff", summary="List staff", responses=ERRORS)
def list_staff(request: Request, municipality_id: DbId | None = Query(None), principal: Principal = Depends(registry_admin)):
    return read_only(request, lambda conn: service.list_staff(conn, municipality_id=municipality_id, allowed=_allowed(principal)))


# --- municipalities and agreements (host administrator) ----------------------------------------


@router.post("/municipalities", status_code=201, summary="Create a municipality", responses=ERRORS)
async def add_municipality(body: MunicipalityIn, request: Request, principal: Principal = Depends(host_admin)):
    now = runtime(request).clock()
    values = body.model_dump()
    result = await run_unit(request, lambda conn: service.add_municipality(conn, values, now=now, actor=principal.actor))
    if isinstance(result, Failure):
        return result.response
    return {"id": result, "number": body.number}


@router.get("/municipalities", summary="List municipalities")
def list_municipalities(request: Request, principal: Principal = Depends(host_admin)):
    return read_only(request, service.list_municipalities)


@router.post("/agreements", status_code=201, summary="Create an agreement with its time windows", responses=ERRORS)
async def add_agreement(body: AgreementIn, request: Request, principal: Principal = Depends(host_admin)):
    now = runtime(request).clock()
    values = body.model_dump(exclude={"municipality_id"})
    result = await run_unit(
        request, lambda conn: service.add_agreement(conn, values, municipality_id=body.municipality_id, now=now, actor=principal.actor)
    )
    if isinstance(result, Failure):
        return result.response
    return {"id": result, "municipality_id": body.municipality_id}
