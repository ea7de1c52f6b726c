"""Numbers and durations as people read them, one way per language, so the dashboard, the
report page and the PDF never disagree (issue 14: "46.2 %" beside "42,9 %").

Bokmål writes a decimal comma, English a decimal point. A duration up to two minutes is
given in seconds ("45 s"); a longer one in minutes and seconds ("25 min 50 s"), never as a
decimal fraction of minutes: a centre compares answer times in whole seconds, and "25,8 min"
would make a reader work out what 0,8 minutes is."""

from __future__ import annotations

from dataclasses import dataclass

TWO_MINUTES = 120.0


def decimal(value: float, digits: int = 1, language: str = "nb") -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if language == "nb" else text


def grouped(value: float, digits: int = 0, language: str = "nb") -> str:
    """A number with thousands grouped: "12 345,50" in bokmål, "12,345.50" in English. A plain
    space groups (not a no-break space), so an amount copied from a page into a form parses."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", " ").replace(".", ",") if language == "nb" else text


def plain(value: float | int, language: str = "nb") -> str:
    """A count or quantity as stored (no rounding, no grouping), with the language's decimal mark."""
    text = f"{value:f}".rstrip("0").rstrip(".") if not isinstance(value, int) else str(value)
    return text.replace(".", ",") if language == "nb" else text


def percent(share: float | None, language: str = "nb") -> str:
    """A share (0–1) as a percentage with one decimal; "–" when there is none."""
    return "–" if share is None else f"{decimal(share * 100, 1, language)} %"


def duration(seconds: float | None, language: str = "nb") -> str:
    """Whole seconds up to two minutes, minutes and seconds above; "–" when there is none."""
    if seconds is None:
        return "–"
    whole = int(round(seconds))
    if whole <= TWO_MINUTES:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours} t {minutes} min" if language == "nb" else f"{hours} h {minutes} min"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


@dataclass(frozen=True)
class Formats:
    """The three functions bound to one language, for templates."""

    language: str

    def pct(self, share: float | None) -> str:
        return percent(share, self.language)

    def dec(self, value: float, digits: int = 1) -> str:
        return decimal(value, digits, self.language)

    def dur(self, seconds: float | None) -> str:
        return duration(seconds, self.language)

    def money(self, value: float | None, digits: int = 2) -> str:
        return "–" if value is None else grouped(value, digits, self.language)

    def num(self, value: float | int) -> str:
        return plain(value, self.language)
