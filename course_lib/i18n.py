"""The learner's language for the text ``course_lib`` prints: ``COURSE_LANG=en`` (default) or ``zh``.

Learner-facing text (exercise verdicts and hints, ``setup()``'s banner, the doctor's findings, the
errors a learner is likely to meet) is written in English and passed through :func:`tr`::

    print(tr("{name}: not attempted yet", name=name))

``tr`` looks the English template up in the catalog of the learner's language and formats it with
the keyword arguments (``str.format`` syntax, so a literal brace in a template is ``{{``/``}}``).
A language's catalog is the union of the ``MESSAGES`` dicts of the modules in
``course_lib/locale/<lang>/`` (one module per part of the library); a template missing there is
printed in English. ``tests/test_i18n.py`` fails when a template passed to ``tr`` has no Chinese
entry, when an entry's placeholders differ from its English template, or when an entry is no longer
used, so an English message cannot change without its translation.

The language is chosen by ``COURSE_LANG`` only (not ``LANG``: a Chinese system may well want an
English course). The Chinese notebooks' kernel sets ``COURSE_LANG=zh``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from functools import cache

LANGUAGES = ("en", "zh")


def language() -> str:
    """The learner's language: ``COURSE_LANG`` (``en`` when unset). Raises ValueError with a fix
    for a value that is not a course language."""
    value = os.environ.get("COURSE_LANG", "").strip().lower() or "en"
    if value not in LANGUAGES:
        raise ValueError(f"COURSE_LANG={value!r} is not a language of the course. Use one of "
                         f"{', '.join(LANGUAGES)} (e.g. `COURSE_LANG=zh make lab`), or unset it for English.")
    return value


@cache
def catalog(lang: str) -> dict[str, str]:
    """English template -> template in ``lang``, merged from ``course_lib/locale/<lang>/*.py``."""
    if lang == "en":
        return {}
    package = importlib.import_module(f"course_lib.locale.{lang}")
    merged: dict[str, str] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        merged.update(importlib.import_module(f"{package.__name__}.{module}").MESSAGES)
    return merged


def tr(template: str, /, **values) -> str:
    """``template`` (English) in the learner's language, formatted with ``values`` if any are given."""
    text = catalog(language()).get(template, template)
    return text.format(**values) if values else text
