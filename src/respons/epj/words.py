"""The patient-record pages' words (bokmål, English)."""

from respons.web.i18n import register

register(
    {
        "epj.title": ("Journal (EPJ): sending", "Patient record (EPJ): delivery"),
        "epj.intro": ("Dokumentene som skal til kommunenes journalsystem gjennom VKP. Her står det som ikke er "
                      "levert, og hvorfor.",
                      "The documents for the municipalities' record systems through VKP. Listed here: what is not "
                      "delivered, and why."),
        "epj.counts": ("Alle dokumenter", "All documents"),
        "epj.none": ("Ingen dokumenter med problemer.", "No documents with problems."),
        "epj.col.created": ("Laget", "Made"),
        "epj.col.municipality": ("Kommune", "Municipality"),
        "epj.col.alarm": ("Alarm", "Alarm"),
        "epj.lookin": ("Tilsyn", "Look-in"),
        "epj.dose": ("Dose", "Dose"),
        "epj.col.state": ("Status", "State"),
        "epj.col.attempts": ("Forsøk", "Attempts"),
        "epj.col.why": ("Hvorfor", "Why"),
        "epj.col.count": ("Antall", "Count"),
        "epj.state.waiting": ("Venter", "Waiting"),
        "epj.state.delivered": ("Levert", "Delivered"),
        "epj.state.refused": ("Avvist", "Refused"),
        "epj.state.failed": ("Feilet", "Failed"),
        "epj.state.not_documented": ("Ikke dokumentert", "Not documented"),
        "epj.state.superseded": ("Erstattet av nyere", "Superseded"),
        "epj.resend": ("Send på nytt", "Send again"),
        "epj.resent": ("Dokumentet sendes på nytt.", "The document will be sent again."),
        "epj.failing": ("Leveransene til {municipality} feiler siden {since} ({failures} forsøk).",
                        "Deliveries to {municipality} have failed since {since} ({failures} attempts)."),
        "epj.failing_alarm": ("Den tekniske alarmen", "The technical alarm"),
        "epj.next_attempt": ("neste forsøk {at}", "next attempt {at}"),
    }
)
