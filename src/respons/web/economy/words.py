"""The economy pages' words (bokmål, English)."""

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
                                "per_user_month, per_event, budget_share og per_inhabitant (se dokumentasjonen).",
                                "Applies from the first day of the month and ends the municipality's previous model. "
                                "Prices are given in the base year and indexed by the municipal deflator for later "
                                "years. Components: per_user_month, per_event, budget_share and per_inhabitant (see "
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
    }
)
