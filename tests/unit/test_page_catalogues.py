"""The pages' language catalogues (web/src/i18n/<lang>.json): one per contract language,
none missing a key, the same placeholders as English, and their unreviewed strings listed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tariq.domain.languages import LANGUAGES, RIGHT_TO_LEFT, direction

CATALOGUES = Path(__file__).resolve().parents[2] / "web" / "src" / "i18n"
BUILT = Path(__file__).resolve().parents[2] / "dashboards" / "static" / "build" / "i18n"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def strings(catalogue: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in catalogue.items() if not k.startswith("_")}


def test_one_catalogue_per_contract_language_and_no_other() -> None:
    assert sorted(p.stem for p in CATALOGUES.glob("*.json")) == sorted(LANGUAGES)
    assert set(LANGUAGES) == {"ar", "en", "id", "ms", "ur", "bn", "tr", "fr", "dv"}
    assert {"ar", "ur", "dv"} == RIGHT_TO_LEFT


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_key_is_missing_and_placeholders_match(lang: str) -> None:
    english = strings(load("en"))
    catalogue = load(lang)
    table = strings(catalogue)
    assert sorted(set(english) - set(table)) == [], f"{lang} lacks these keys"
    assert sorted(set(table) - set(english)) == [], f"{lang} has keys English does not"
    for key, text in table.items():
        assert isinstance(text, str) and text.strip(), f"{lang}:{key} is empty"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), (
            f"{lang}:{key} placeholders differ from English"
        )
    assert catalogue["_meta"]["lang"] == lang
    assert catalogue["_meta"]["dir"] == direction(lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_unreviewed_strings_are_listed_by_key(lang: str) -> None:
    catalogue = load(lang)
    unreviewed = catalogue["_unreviewed"]
    assert isinstance(unreviewed, list)
    assert set(unreviewed) <= set(strings(catalogue)), "unknown keys marked unreviewed"
    if lang == "en":
        assert unreviewed == []  # the source language
    else:
        # Machine translations not yet checked by a native speaker: all of them, for now.
        assert set(unreviewed) == set(strings(catalogue))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_built_catalogue_is_the_source(lang: str) -> None:
    built = json.loads((BUILT / f"{lang}.json").read_text(encoding="utf-8"))
    assert built == load(lang)


@pytest.mark.parametrize("page", ["scan", "label"])
def test_the_counter_and_label_pages_have_english_and_arabic_with_the_same_keys(page: str) -> None:
    folder = CATALOGUES / page
    assert sorted(p.stem for p in folder.glob("*.json")) == ["ar", "en"]
    english, arabic = (
        json.loads((folder / f"{lang}.json").read_text(encoding="utf-8")) for lang in ("en", "ar")
    )
    assert set(strings(english)) == set(strings(arabic))
    for key, text in strings(arabic).items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), key
    assert arabic["_meta"]["dir"] == "rtl" and english["_unreviewed"] == []
    assert set(arabic["_unreviewed"]) == set(strings(arabic))
