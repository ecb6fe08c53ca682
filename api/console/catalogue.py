"""Extracting the console's strings and keeping the zh_CN catalogue in step with them.

`python3 dev.py i18n` (= `candor i18n update`) re-extracts every `_()`/`ngettext()` of the
console's templates and Python, and every literal `ApiError` message of the API, then merges
them into locale/zh_CN/LC_MESSAGES/messages.po: new strings arrive untranslated, vanished ones
are dropped. `candor i18n check` lists what is untranslated, fuzzy or out of step (the test
suite fails on the same, tests/api/console/test_i18n.py)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from api.console.i18n import DOMAIN, LOCALE_DIR, LOCALES, SOURCE_LOCALE

API_DIR = Path(__file__).resolve().parent.parent
# The same as babel.cfg at the repository root, for `pybabel extract -F babel.cfg`.
METHOD_MAP = [
    ("console/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS_MAP = {"console/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "NP_": ((1, "c"), 2), "ApiError": (3,)}


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> Catalog:
    """Every message the sources mark, with where it is used."""
    template = Catalog(project="Candor console", domain=DOMAIN, fuzzy=False)
    with warnings.catch_warnings():
        # f-string ApiError messages cannot be extracted; their codes' wordings cover them.
        warnings.simplefilter("ignore")
        found = list(
            extract_from_dir(
                API_DIR,
                METHOD_MAP,
                OPTIONS_MAP,
                KEYWORDS,
                comment_tags=("Translators:",),
                strip_comment_tags=True,
            )
        )
    for filename, lineno, message, comments, context in found:
        template.add(
            message,
            None,
            [(f"api/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def read_catalog(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, project="Candor console", fuzzy=False)
    with path.open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def write_catalog(catalog: Catalog, locale: str) -> None:
    path = po_path(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        # Sorted, without line numbers: a moved string does not churn the file.
        write_po(po, catalog, sort_output=True, include_lineno=False, ignore_obsolete=True)


def _key(message_id: object) -> str:
    return message_id if isinstance(message_id, str) else str(tuple(message_id))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class CatalogueProblems:
    untranslated: list[str]
    fuzzy: list[str]
    missing: list[str]  # in the sources, not in the catalogue
    obsolete: list[str]  # in the catalogue, no longer in the sources

    @property
    def ok(self) -> bool:
        return not (self.untranslated or self.fuzzy or self.missing or self.obsolete)


def check(locale: str, template: Catalog | None = None) -> CatalogueProblems:
    template = template if template is not None else extract()
    catalog = read_catalog(locale)
    source_ids = {_key(m.id) for m in template if m.id}
    catalog_ids = {_key(m.id) for m in catalog if m.id}
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(_key(message.id))
        elif message.fuzzy:
            fuzzy.append(_key(message.id))
    return CatalogueProblems(
        untranslated=sorted(untranslated),
        fuzzy=sorted(fuzzy),
        missing=sorted(source_ids - catalog_ids),
        obsolete=sorted(catalog_ids - source_ids),
    )


def update() -> dict[str, CatalogueProblems]:
    """Merge the extracted strings into every catalogue; what each still lacks."""
    template = extract()
    result = {}
    for locale in LOCALES:
        if locale == SOURCE_LOCALE:
            continue
        catalog = read_catalog(locale)
        created = catalog.creation_date
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.creation_date = created  # no churn in the header on every run
        write_catalog(catalog, locale)
        result[locale] = check(locale, template)
    return result
