"""The economy pages' words (bokmål, English).

The refusals of the invoicing and price model engines are here by the names they give them
(``economy.refusal.<key>``): the bokmål is the engine's own text, which the command line
prints. The invoice on a page (its title, its units) is in the reader's language; the
exported PDF, XLSX and CSV stay bokmål as the documents sent to municipalities
(economy/invoice_files.py, docs/economy.md).
"""

from respons.web.i18n import register

register(
    {
        "economy.title": ("Økonomi og faktura", "Economy and invoices"),
        "economy.runs": ("Fakturakjøringer", "Invoice runs"),
        "economy.invoices": ("Fakturaer", "Invoices"),
        "economy.none": ("Ingen fakturakjøringer ennå.", "No invoice runs yet."),
        "economy.none_approved": ("Ingen godkjente fakturaer ennå.", "No approved invoices yet."),
        "economy.period": ("Periode", "Period"),
        "economy.state": ("Status", "State"),
        "economy.state.draft": ("Utkast", "Draft"),
        "economy.state.approved": ("Godkjent", "Approved"),
        "economy.total": ("Beløp (NOK)", "Amount (NOK)"),
        "economy.municipalities": ("Kommuner", "Municipalities"),
        "economy.new": ("Ny fakturakjøring", "New invoice run"),
        "economy.new.hint": ("Hele måneder innenfor ett år. En ny kjøring av en periode med utkast erstatter "
                             "utkastet; en godkjent periode endres aldri, men viser forskjellene.",
                             "Whole months within one year. Running a period with a draft replaces the draft; an "
                             "approved period never changes, but shows the differences."),
        "economy.from": ("Første måned", "First month"),
        "economy.months": ("Antall måneder", "Months"),
        "economy.compute": ("Beregn", "Compute"),
        "economy.error.period": ("Skriv første måned som ÅÅÅÅ-MM og antall måneder (1–12).",
                                 "Write the first month as YYYY-MM and the number of months (1–12)."),
        "economy.line": ("Linje", "Line"),
        "economy.quantity": ("Mengde", "Quantity"),
        "economy.unit": ("Enhet", "Unit"),
        "economy.unit_price": ("Pris", "Price"),
        "economy.due": ("forfall {date}", "due {date}"),
        "economy.sum": ("Sum", "Sum"),
        "economy.grand_total": ("Samlet", "Total"),
        "economy.approve": ("Godkjenn", "Approve"),
        "economy.approve.hint": ("En godkjent kjøring kan ikke endres eller slettes.",
                                 "An approved run can never be changed or deleted."),
        "economy.discard": ("Slett utkastet", "Discard the draft"),
        "economy.export": ("Last ned", "Download"),
        "economy.details": ("Hva linjen teller", "What the line counts"),
        "economy.back": ("Tilbake til kjøringen", "Back to the run"),
        "economy.people": ("Tjenestemottakere og aktive dager", "Recipients and active days"),
        "economy.name": ("Navn", "Name"),
        "economy.days": ("Aktive dager", "Active days"),
        "economy.events": ("Alarmene som er telt", "The alarms counted"),
        "economy.received": ("Mottatt", "Received"),
        "economy.type": ("Type", "Type"),
        "economy.share_line": ("Kommunens andel av budsjettet «{budget}»: fast del i like deler, resten etter "
                               "innbyggertall.", "The municipality's share of the budget “{budget}”: a fixed part "
                               "in equal shares, the rest by population."),
        "economy.inhabitants_line": ("Innbyggertall ganger avgift per innbygger.",
                                     "Population times the fee per inhabitant."),
        "economy.differences": ("Perioden er godkjent", "The period is approved"),
        "economy.differences.hint": ("Ingenting er lagret. Beregnet på nytt skiller dette seg fra den godkjente "
                                     "kjøringen {run}:", "Nothing was stored. Computed again, this differs from "
                                     "the approved run {run}:"),
        "economy.differences.none": ("Beregnet på nytt er alle linjene like.", "Computed again, every line is the same."),
        "economy.approved_amount": ("Godkjent", "Approved"),
        "economy.now_amount": ("Nå", "Now"),
        "economy.prices": ("Prismodeller, budsjetter og deflator", "Price models, budgets and deflator"),
        "economy.models": ("Prismodeller", "Price models"),
        "economy.models.none": ("Ingen prismodeller ennå.", "No price models yet."),
        "economy.models.new": ("Ny prismodell", "New price model"),
        "economy.models.hint": ("Gjelder fra den første dagen i måneden og avslutter kommunens forrige modell. Prisene "
                                "gis i basisåret og indekseres med kommunal deflator for senere år. Komponentene: "
                                "per_user_month, per_event, per_supervision, budget_share og per_inhabitant (se dokumentasjonen).",
                                "Applies from the first day of the month and ends the municipality's previous model. "
                                "Prices are given in the base year and indexed by the municipal deflator for later "
                                "years. Components: per_user_month, per_event, per_supervision, budget_share and per_inhabitant (see "
                                "the documentation)."),
        "economy.municipality": ("Kommune", "Municipality"),
        "economy.valid": ("Gjelder", "Valid"),
        "economy.valid_from": ("Gjelder fra måned", "Valid from month"),
        "economy.base_year": ("Basisår", "Base year"),
        "economy.components": ("Komponenter", "Components"),
        "economy.save": ("Lagre", "Save"),
        "economy.budgets": ("Budsjetter som fordeles", "Budgets to be split"),
        "economy.year": ("År", "Year"),
        "economy.amount": ("Beløp (kr)", "Amount (NOK)"),
        "economy.fixed_share": ("Fast andel (0–1)", "Fixed share (0–1)"),
        "economy.deflators": ("Kommunal deflator", "Municipal deflator"),
        "economy.percent": ("Prosent", "Per cent"),
        "economy.source": ("Kilde", "Source"),
        "economy.planner": ("Bemanningsplan", "Staffing plan"),
        "economy.planner.hint": ("Operatører per time etter Erlang C, fra alarmene som kom til responssenteret de "
                                 "siste {days} dagene (et gjennomsnittsdøgn), med lønnsmodellen fra "
                                 "Helsedirektoratets veileder.", "Operators per hour by Erlang C, from the alarms "
                                 "that reached the centre in the last {days} days (an average day), with the "
                                 "guide's salary model."),
        "economy.planner.days": ("Dager å måle", "Days to measure"),
        "economy.planner.share": ("Andel besvart i tide", "Share answered in time"),
        "economy.planner.seconds": ("Innen sekunder", "Within seconds"),
        "economy.planner.minimum": ("Minst på vakt", "Minimum on duty"),
        "economy.planner.show": ("Beregn", "Compute"),
        "economy.planner.measured": ("{alarms} alarmer til responssenteret, behandlingstid {duration}{assumed}.",
                                     "{alarms} alarms to the centre, handling time {duration}{assumed}."),
        "economy.planner.arrivals": ("{n} alarmer", "{n} alarms"),
        "economy.component.per_user_month": ("{label}: {price} kr per bruker per måned{share}{kinds}",
                                             "{label}: NOK {price} per user per month{share}{kinds}"),
        "economy.component.label.PerUserMonth": ("Brukere", "Users"),
        "economy.component.label.PerEvent": ("Hendelser", "Events"),
        "economy.component.label.PerSupervision": ("Digitalt tilsyn", "Digital supervision"),
        "economy.component.per_supervision": ("{label}: {price} kr per gjennomført tilsyn",
                                              "{label}: NOK {price} per completed supervision"),
        "economy.unit.per_supervision": ("tilsyn", "look-ins"),
        "economy.supervisions": ("Gjennomførte tilsyn", "Completed look-ins"),
        "economy.done_at": ("Utført", "Done"),
        "economy.component.label.BudgetShare": ("Andel av budsjett", "Share of the budget"),
        "economy.component.label.PerInhabitant": ("Samarbeidsavgift per innbygger", "Collaboration fee per inhabitant"),
        "economy.component.with_devices": (", brukere med {kinds}", ", users with {kinds}"),
        "economy.component.per_event": ("{label}: {price} kr per hendelse ({types})", "{label}: NOK {price} per event ({types})"),
        "economy.component.budget_share": ("{label}: andel av budsjettet «{budget}»", "{label}: share of the budget “{budget}”"),
        "economy.component.per_inhabitant": ("{label}: {price} kr per innbygger, forfall {due}",
                                             "{label}: NOK {price} per inhabitant, due {due}"),
        "economy.planner.assumed": (" (antatt: ingen målt ennå)", " (assumed: none measured yet)"),
        "economy.planner.by_hour": ("Operatører per time", "Operators per hour"),
        "economy.planner.shifts": ("Vakter", "Shifts"),
        "economy.planner.day": ("Dag (07–15)", "Day (07–15)"),
        "economy.planner.evening": ("Kveld (15–23)", "Evening (15–23)"),
        "economy.planner.night": ("Natt (23–07)", "Night (23–07)"),
        "economy.planner.weekly_hours": ("Timer per uke", "Hours per week"),
        "economy.planner.fte": ("Årsverk", "Full-time equivalents"),
        "economy.planner.staff": ("Ansatte (med 20 % buffer)", "Staff (with a 20 % buffer)"),
        "economy.planner.per_operator": ("Lønnsutgift per operatør", "Salary cost per operator"),
        "economy.costs": ("Kostnad per enhet og per alarm", "Cost per unit and per alarm"),
        "economy.costs.hint": ("Lønnsutgiftene over pluss andre kostnader (varer og tjenester, standardiserte "
                               "utgifter), delt på årets målte volum: tjenestemottakere ved årets slutt og mottatte "
                               "alarmer.", "The salary costs above plus other costs (goods and services, "
                               "standardised costs), divided by the year's measured volumes: recipients at the end "
                               "of the year and alarms received."),
        "economy.costs.other": ("Andre kostnader (kr)", "Other costs (NOK)"),
        "economy.costs.total": ("Totale årlige kostnader", "Total yearly costs"),
        "economy.costs.units": ("Brukere / alarmenheter", "Users / alarm units"),
        "economy.costs.alarms": ("Innkommende alarmer i året", "Incoming alarms in the year"),
        "economy.costs.per_unit": ("Kostnad per bruker", "Cost per user"),
        "economy.costs.per_alarm": ("Kostnad per innkommende alarm", "Cost per incoming alarm"),
        "economy.planner.total": ("Lønnsutgifter i året", "Salary costs a year"),
        # The invoice on the page, in the reader's language.
        "economy.run_title": ("Faktura for responstjenesten: {span} ({state})", "Invoice for the response service: {span} ({state})"),
        "economy.run_state.draft": ("utkast", "draft"),
        "economy.run_state.approved": ("godkjent", "approved"),
        "economy.span.months": ("{months} mnd", "{months} months"),
        "economy.unit.per_user_month": ("brukermåneder", "user-months"),
        "economy.unit.per_event": ("hendelser", "events"),
        "economy.unit.budget_share": ("andel", "share"),
        "economy.unit.per_inhabitant": ("innbyggere", "inhabitants"),
        # The pages' own refusals.
        "economy.error.model_form": ("Velg kommune, skriv fra-måned som ÅÅÅÅ-MM, basisår, og komponentene som en JSON-liste.",
                                     "Choose a municipality, write the first month as YYYY-MM, the base year, and the "
                                     "components as a JSON list."),
        "economy.error.year": ("Året skrives med fire sifre.", "Write the year with four digits."),
        # The engines' refusals by name (economy/invoicing.py, economy/price_models.py, economy/pricing.py).
        "economy.refusal.centres": ("Det er {count} responssentre; velg med kommandolinjen (--centre).",
                                    "There are {count} response centres; choose one on the command line (--centre)."),
        "economy.refusal.one_year": ("En fakturaperiode må ligge innenfor ett kalenderår (budsjetter og indeks er per år).",
                                     "An invoice period must lie within one calendar year (budgets and indexation are "
                                     "yearly)."),
        "economy.refusal.no_models": ("Ingen kommuner har en prismodell som gjelder i perioden.",
                                      "No municipality has a price model that applies in the period."),
        "economy.refusal.no_budget": ("Budsjettet «{budget}» for {year} er ikke lagt inn.",
                                      "The budget “{budget}” for {year} has not been entered."),
        "economy.refusal.no_run": ("Fakturakjøringen finnes ikke.", "The invoice run does not exist."),
        "economy.refusal.already_approved": ("Fakturakjøringen er allerede godkjent og kan ikke endres.",
                                             "The invoice run is already approved and cannot be changed."),
        "economy.refusal.approved_kept": ("En godkjent fakturakjøring kan ikke slettes.",
                                          "An approved invoice run cannot be deleted."),
        "economy.refusal.overlaps_approved": ("Perioden overlapper fakturakjøring {run} ({first}, {months} mnd), som er "
                                              "godkjent: en måned faktureres én gang.",
                                              "The period overlaps invoice run {run} ({first}, {months} months), which "
                                              "is approved: a month is invoiced once."),
        "economy.refusal.before_base_year": ("En pris fra {base_year} kan ikke brukes for {year}.",
                                             "A price from {base_year} cannot be used for {year}."),
        "economy.refusal.missing_deflator": ("Mangler kommunal deflator for {missing}; legg den inn før du fakturerer {year}.",
                                             "The municipal deflator for {missing} is missing; enter it before invoicing "
                                             "{year}."),
        "economy.refusal.event_types": ("Pris per hendelse må si hvilke alarmtyper den gjelder.",
                                        "A price per event must say which alarm types it applies to."),
        "economy.refusal.share_budget": ("Andel av budsjett må si hvilket budsjett.",
                                         "A share of a budget must say which budget."),
        "economy.refusal.due_day": ("Forfallsdagen skrives MM-DD, for eksempel 01-15, ikke {value!r}.",
                                    "The due day is written MM-DD, for example 01-15, not {value!r}."),
        "economy.refusal.label": ("Navnet på en priskomponent er tekst på høyst {most} tegn.",
                                  "A price component's name is text of at most {most} characters."),
        "economy.refusal.names": ("{field} skrives som en liste med navn, for eksempel [\"gps\"].",
                                  "{field} is written as a list of names, for example [\"gps\"]."),
        "economy.refusal.invalid_component": ("Ugyldig priskomponent {kind!r}: {error}", "Invalid price component {kind!r}: {error}"),
        "economy.refusal.unknown_component": ("Ukjent priskomponent {kind!r}; kjente er per_user_month, per_event, "
                                              "per_supervision, budget_share og per_inhabitant.",
                                              "Unknown price component {kind!r}; the known ones are per_user_month, "
                                              "per_event, per_supervision, budget_share and per_inhabitant."),
        "economy.refusal.no_components": ("En prismodell trenger minst én komponent.", "A price model needs at least one component."),
        "economy.refusal.price": ("Prisen må være et ikke-negativt beløp i kroner og øre, ikke {value!r}.",
                                  "The price must be a non-negative amount in kroner and øre, not {value!r}."),
        "economy.refusal.share": ("Andelen må være mellom 0 og 1, ikke {value!r}.", "The share must be between 0 and 1, not {value!r}."),
        "economy.refusal.first_day": ("En prismodell gjelder fra den første dagen i en måned.",
                                      "A price model applies from the first day of a month."),
        "economy.refusal.no_agreement": ("Kommunen har ingen avtale med responssenteret.",
                                         "The municipality has no agreement with the centre."),
        "economy.refusal.months_approved": ("Månedene til og med {last} er fakturert og godkjent; en ny prismodell kan "
                                            "gjelde fra {first}.", "The months up to and including {last} are invoiced "
                                            "and approved; a new price model can apply from {first}."),
        "economy.refusal.later_model": ("Avtalen har allerede en prismodell fra samme eller en senere måned.",
                                        "The agreement already has a price model from the same or a later month."),
        "economy.refusal.budget_name": ("Budsjettet trenger et navn (det prismodellene viser til).",
                                        "The budget needs a name (the one the price models refer to)."),
        "economy.refusal.budget_amount": ("Beløpet skrives i kroner (med øre), den faste andelen som et tall mellom 0 og 1.",
                                          "Write the amount in kroner (with øre), the fixed share as a number between 0 "
                                          "and 1."),
        "economy.refusal.deflator": ("Deflatoren skrives i prosent, for eksempel 4,3.",
                                     "Write the deflator in per cent, for example 4.3."),
        "economy.refusal.year_approved": ("Et godkjent fakturagrunnlag for {year} bruker allerede dette; det kan ikke endres.",
                                          "An approved invoice for {year} already uses this; it cannot be changed."),
    }
)
