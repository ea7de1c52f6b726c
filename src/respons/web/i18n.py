"""The user interface's words, in Norwegian bokmål (default) and English.

A plain catalogue instead of gettext: two languages, a few hundred strings, and a test
(``tests/unit/web/test_i18n.py``) that every key has both. Templates call ``t("key")``;
``t("key", name=...)`` fills ``{name}`` placeholders. A key missing from the catalogue
raises in tests and shows the key itself in production, so a gap is visible, not fatal.

Modules add their own words with ``register({...})`` so each screen keeps its strings
beside its routes.
"""

from __future__ import annotations

from typing import Callable

from fastapi import Request

LANGUAGES = ("nb", "en")
DEFAULT_LANGUAGE = "nb"
LANGUAGE_COOKIE = "respons_lang"

# key -> (bokmål, English)
CATALOGUE: dict[str, tuple[str, str]] = {}


def register(words: dict[str, tuple[str, str]]) -> None:
    for key, pair in words.items():
        if key in CATALOGUE and CATALOGUE[key] != pair:
            raise ValueError(f"i18n key {key!r} registered twice with different words")
        CATALOGUE[key] = pair


register(
    {
        "app.name": ("Respons", "Respons"),
        "app.tagline": ("Responssenter for velferdsteknologi", "Response centre for welfare technology"),
        "nav.console": ("Alarmmottak", "Alarm console"),
        "nav.round": ("Tilsynsrunde", "Supervision round"),
        "nav.registry": ("Register", "Registry"),
        "nav.statistics": ("Statistikk", "Statistics"),
        "nav.deviations": ("Avvik", "Deviations"),
        "nav.economy": ("Økonomi", "Economy"),
        "nav.epj": ("Journal", "Patient record"),
        "nav.logout": ("Logg ut", "Log out"),
        "nav.language": ("Språk", "Language"),
        "nav.skip": ("Hopp til innhold", "Skip to content"),
        "nav.main": ("Hovedmeny", "Main menu"),
        "lang.nb": ("Norsk (bokmål)", "Norsk (bokmål)"),
        "lang.en": ("English", "English"),
        "login.title": ("Logg inn", "Log in"),
        "login.username": ("Brukernavn", "Username"),
        "login.password": ("Passord", "Password"),
        "login.totp": ("Engangskode (administratorer)", "One-time code (administrators)"),
        "login.totp_hint": ("Seks siffer fra autentiseringsappen.", "Six digits from your authenticator app."),
        "login.submit": ("Logg inn", "Log in"),
        "login.expired": ("Logg inn for å fortsette.", "Log in to continue."),
        "login.csrf": (
            "Innloggingsskjemaet var utløpt. Prøv igjen.",
            "The log-in form had expired. Please try again.",
        ),
        "login.unavailable": ("Innlogging er ikke mulig akkurat nå. Prøv igjen.", "Log-in is not possible right now. Try again."),
        "login.refused.bad_credentials": ("Feil brukernavn eller passord.", "Wrong username or password."),
        "login.refused.address_limited": (
            "For mange mislykkede forsøk fra denne maskinen. Vent {minutes} minutter.",
            "Too many failed attempts from this machine. Wait {minutes} minutes.",
        ),
        "error.title": ("Noe gikk galt", "Something went wrong"),
        "error.403": ("Du har ikke tilgang til denne siden.", "You do not have access to this page."),
        "error.404": ("Finnes ikke, eller du har ikke tilgang.", "Not found, or you do not have access."),
        "error.503": ("Databasen svarte ikke; ingenting ble lagret. Prøv igjen.", "The database did not answer; nothing was saved. Try again."),
        "error.back": ("Til forsiden", "To the front page"),
        "common.save": ("Lagre", "Save"),
        "common.cancel": ("Avbryt", "Cancel"),
        "common.yes": ("Ja", "Yes"),
        "common.no": ("Nei", "No"),
        "common.none": ("Ingen", "None"),
        "common.unknown": ("Ukjent", "Unknown"),
        "common.required": ("påkrevd", "required"),
        "theme.dark": ("Mørkt tema", "Dark theme"),
    }
)


def language_of(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def translator(language: str, *, strict: bool = False) -> Callable[..., str]:
    index = LANGUAGES.index(language)

    def t(key: str, **values) -> str:
        pair = CATALOGUE.get(key)
        if pair is None:
            if strict:
                raise KeyError(f"missing i18n key {key!r}")
            return key
        text = pair[index]
        return text.format(**values) if values else text

    return t
