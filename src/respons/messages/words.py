"""The messages' words (bokmål, English): the next-of-kin confirmation page, the app's push
switch, and what the alarm's timeline says about a message."""

from respons.web.i18n import register

register(
    {
        # The page a next of kin opens from the SMS's link.
        "kin.title": ("Bekreft at du drar", "Confirm that you are going"),
        "kin.ask": ("Du har fått en melding om en alarm. Trykk under hvis du drar dit nå, så vet responssenteret "
                    "at du tar deg av det.",
                    "You got a message about an alarm. Press below if you are going there now, so the response "
                    "centre knows you are taking care of it."),
        "kin.button": ("Jeg drar dit nå", "I am going there now"),
        "kin.emergency": ("Ring 113 ved akutt fare.", "Call 113 if life is in danger."),
        "kin.confirmed": ("Takk. Responssenteret vet at du drar dit.",
                          "Thank you. The response centre knows you are going there."),
        "kin.used": ("Dette er allerede bekreftet.", "This has already been confirmed."),
        "kin.late": ("Takk. Alarmen var allerede tatt hånd om eller sendt videre til responssenteret; de ser at du drar.",
                     "Thank you. The alarm had already been taken care of or passed on to the response centre; "
                     "they can see that you are going."),
        "kin.unknown": ("Denne lenken er ikke gyldig.", "This link is not valid."),
        # The responder app: push to this phone.
        "push.title": ("Varsel når appen er lukket", "Alerts while the app is closed"),
        "push.enable": ("Slå på varsler", "Turn on alerts"),
        "push.disable": ("Slå av varsler", "Turn off alerts"),
        "push.on": ("Denne telefonen får varsel om nye alarmer også når appen er lukket.",
                    "This phone is alerted to new alarms even when the app is closed."),
        "push.off": ("Varsler er av: nye alarmer høres bare mens appen er åpen.",
                     "Alerts are off: new alarms are heard only while the app is open."),
        "push.denied": ("Nettleseren har blokkert varsler for Respons. Slå dem på i nettleserens innstillinger.",
                        "The browser blocks notifications for Respons. Allow them in the browser's settings."),
        "push.unsupported": ("Denne nettleseren kan ikke vise varsler når appen er lukket.",
                             "This browser cannot show alerts while the app is closed."),
        "push.unavailable": ("Varsler er ikke satt opp på denne installasjonen.",
                             "Alerts are not set up on this installation."),
        "push.failed": ("Kunne ikke slå på varsler. Prøv igjen.", "Could not turn on alerts. Try again."),
        # The alarm's timeline (console card).
        "console.event.kin_asked": ("Spurt pårørende (SMS)", "Asked next of kin (SMS)"),
        "console.event.kin_confirmed": ("Pårørende bekreftet at de drar", "Next of kin confirmed they are going"),
        "console.event.message": ("Melding", "Message"),
        "message.channel.sms": ("SMS", "SMS"),
        "message.channel.push": ("Varsel til telefon", "Phone alert"),
        "message.phase.sent": ("sendt", "sent"),
        "message.phase.delivered": ("levert", "delivered"),
        "message.phase.failed": ("kom ikke fram", "failed"),
        "message.phase.expired": ("utløpt, ikke sendt i tide", "expired, not sent in time"),
        "message.phase.retrying": ("ikke sendt ennå, prøver igjen", "not sent yet, trying again"),
        "message.phase.confirmed": ("bekreftet: drar dit", "confirmed: going there"),
        "message.phase.declined": ("svarte nei", "said no"),
        "message.phase.reply": ("svar", "reply"),
        "message.late": ("etter at alarmen hadde gått videre", "after the alarm had moved on"),
        "message.resent": ("sendt på nytt etter et avbrudd; kan komme fram to ganger",
                           "sent again after an interruption; may arrive twice"),
        "message.recovered": ("sendt før et avbrudd, funnet igjen fra kvitteringen",
                              "sent before an interruption, recognised from its receipt"),
        "message.via_link": ("via lenken", "through the link"),
        "console.kin.confirm_by": ("svar innen {time}", "answer by {time}"),
        "console.message.to": ("til {name}", "to {name}"),
        "console.escalation.kin_not_confirmed": ("ingen pårørende bekreftet i tide", "no next of kin confirmed in time"),
        "console.escalation.kin_unreachable": ("ingen melding til pårørende kom fram", "no message reached next of kin"),
        "console.escalation.kin_declined": ("pårørende kunne ikke", "next of kin could not go"),
        "console.escalation.no_kin": ("ingen pårørende tar alarmer", "no next of kin take alarms"),
        "console.escalation.kin_none": ("noen pårørende sa nei, de andre ble ikke nådd",
                                        "some next of kin said no, the others could not be reached"),
        "message.unclear": ("uklart hvilken alarm svaret gjelder: flere venter på denne personen",
                            "unclear which alarm the reply is for: several wait for this person"),
    }
)
