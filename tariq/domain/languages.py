"""The pages' languages (contract section 7): which one a pilgrim reads, and its direction.

Pure data: the catalogues themselves are in `web/src/i18n/<lang>.json` (one per language).
"""

from __future__ import annotations

from typing import Final

# ISO 639-1 codes of the pages' languages, in the order the language menu lists them.
LANGUAGES: Final[tuple[str, ...]] = ("ar", "en", "id", "ms", "ur", "bn", "tr", "fr", "dv")
RIGHT_TO_LEFT: Final[frozenset[str]] = frozenset({"ar", "ur", "dv"})
DEFAULT_LANGUAGE: Final = "en"

# Nationality (ISO 3166-1 alpha-2, as `pilgrim.registered` carries it and the simulator
# generates it, simulators/season.py) → the language a pilgrim most likely reads. Morocco:
# Arabic (French is the page's second choice there, one tap away); Côte d'Ivoire: French.
NATIONALITY_LANGUAGE: Final[dict[str, str]] = {
    "ID": "id",
    "MY": "ms",
    "BN": "ms",
    "SG": "ms",
    "PK": "ur",
    "BD": "bn",
    "TR": "tr",
    "MA": "ar",
    "DZ": "ar",
    "TN": "ar",
    "EG": "ar",
    "SA": "ar",
    "CI": "fr",
    "SN": "fr",
    "ML": "fr",
    "MV": "dv",
}


def language_for(nationality: str | None) -> str:
    """The page language for a nationality; English when it is unknown or not listed."""
    return NATIONALITY_LANGUAGE.get((nationality or "").strip().upper(), DEFAULT_LANGUAGE)


def direction(lang: str) -> str:
    return "rtl" if lang in RIGHT_TO_LEFT else "ltr"


def given_name(name: str | None) -> str | None:
    """The given name only (the first word of the registered name): all a pilgrim's own page
    shows of it, so that a photo of the screen gives away as little as possible."""
    if not name:
        return None
    first = name.strip().split()
    return first[0][:40] if first else None
