"""The responder app's words (bokmål, English)."""

from respons.web.i18n import register

register(
    {
        "app.title": ("Hjemmetjenesten", "Home care"),
        "app.duty.title": ("Logg inn i soner", "Log in to zones"),
        "app.duty.hint": (
            "Velg sonene du har ansvar for nå. Nattevakt kan velge flere.",
            "Choose the zones you cover now. A night shift may choose several.",
        ),
        "app.duty.technician": ("Tekniker i kommunen", "Technician for the municipality"),
        "app.duty.submit": ("Start vakt", "Start shift"),
        "app.duty.on": ("På vakt i: {zones}", "On duty in: {zones}"),
        "app.duty.off": ("Avslutt vakt", "End shift"),
        "app.offers": ("Alarmer til deg", "Alarms for you"),
        "app.no_offers": ("Ingen alarmer venter.", "No alarms waiting."),
        "app.mine": ("Mine oppdrag", "My missions"),
        "app.team": ("Kolleger på vakt", "Colleagues on duty"),
        "app.alone": ("Ingen andre er pålogget sonen.", "Nobody else is logged in to the zone."),
        "app.seen": ("Sett", "Seen"),
        "app.alert": ("Ny alarm!", "New alarm!"),
        "app.open": ("Åpne", "Open"),
        "app.accept": ("Ta oppdraget", "Accept"),
        "app.mission": ("Responssenteret ber hjemmetjenesten rykke ut.", "The response centre asks home care to go."),
        "app.decline": ("Kan ikke", "Decline"),
        "app.taken_by": ("Tatt av {name}.", "Taken by {name}."),
        "app.call": ("Ring bruker", "Call the recipient"),
        "app.call_result": ("Samtalen", "The call"),
        "app.record_call": ("Registrer", "Record"),
        "app.status.en_route": ("På vei", "On my way"),
        "app.status.arrived": ("Fremme", "Arrived"),
        "app.status.done": ("Ferdig", "Done"),
        "app.done_note": ("Hva ble gjort", "What was done"),
        "app.note": ("Notat", "Note"),
        "app.save_note": ("Lagre notat", "Save note"),
        "app.hand_back": ("Lever tilbake til responssenteret", "Hand back to the centre"),
        "app.hand_back_reason": ("Hvorfor", "Why"),
        "app.back": ("Til oversikten", "Back to the list"),
        "app.error.unknown": ("Ukjent valg.", "Unknown choice."),
        "app.severity": ("Alvorlighet", "Severity"),
        "app.live": ("Direkte", "Live"),
        "app.live_down": ("Ikke tilkoblet – prøver igjen", "Not connected – retrying"),
        "app.offline": (
            "Ikke tilkoblet – skjermen er ikke oppdatert",
            "Not connected – the screen is not up to date",
        ),
    }
)
