"""Learner-facing text in the learner's language (course_lib.i18n): every template passed to ``tr``
has a Chinese entry with the same placeholders, no entry is left over, COURSE_LANG chooses."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from course_lib import i18n
from course_lib.i18n import catalog, language, tr

LIBRARY = Path(i18n.__file__).resolve().parent


def templates() -> dict[str, list[str]]:
    """Every literal template passed to ``tr(...)`` in course_lib -> where (file:line)."""
    found: dict[str, list[str]] = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        if "locale" in path.relative_to(LIBRARY).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "tr":
                where = f"{path.relative_to(LIBRARY.parent)}:{node.lineno}"
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    found.setdefault("<not a literal>", []).append(where)
                else:
                    found.setdefault(first.value, []).append(where)
    return found


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_every_template_is_a_literal_string():
    assert "<not a literal>" not in templates(), templates().get("<not a literal>")


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_every_template_has_a_translation_with_the_same_placeholders(lang):
    messages = catalog(lang)
    used = templates()
    missing = [f"{where[0]}: {text!r}" for text, where in used.items() if text not in messages]
    assert not missing, f"{len(missing)} template(s) without a {lang} translation:\n" + "\n".join(missing)
    differ = [f"{text!r}: {sorted(placeholders(text))} vs {sorted(placeholders(messages[text]))}"
              for text in used if placeholders(text) != placeholders(messages[text])]
    assert not differ, "placeholders differ:\n" + "\n".join(differ)
    unused = [text for text in messages if text not in used]
    assert not unused, f"{lang} entries no longer used by any tr(...) call:\n" + "\n".join(map(repr, unused))


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_modules_of_a_catalog_agree_on_shared_templates(lang):
    import importlib
    import pkgutil

    package = importlib.import_module(f"course_lib.locale.{lang}")
    seen: dict[str, tuple[str, str]] = {}
    for module in pkgutil.iter_modules(package.__path__):
        for english, text in importlib.import_module(f"{package.__name__}.{module.name}").MESSAGES.items():
            other = seen.setdefault(english, (module.name, text))
            assert other[1] == text, f"{english!r} is translated differently in {other[0]} and {module.name}"


def test_course_lang_chooses_and_english_is_the_default(monkeypatch):
    monkeypatch.delenv("COURSE_LANG", raising=False)
    assert language() == "en"
    monkeypatch.setenv("COURSE_LANG", "ZH ")
    assert language() == "zh"
    monkeypatch.setenv("COURSE_LANG", "fr")
    with pytest.raises(ValueError, match="COURSE_LANG='fr' is not a language of the course"):
        language()


def test_tr_formats_in_the_learners_language(monkeypatch):
    english = next((t for t in templates() if t in catalog("zh") and placeholders(t)), None)
    if english is None:
        pytest.skip("no template with placeholders yet")
    values = {name: "X" for name in placeholders(english)}
    monkeypatch.setenv("COURSE_LANG", "zh")
    assert tr(english, **values) == catalog("zh")[english].format(**values)
    monkeypatch.setenv("COURSE_LANG", "en")
    assert tr(english, **values) == english.format(**values)
