"""Translations of the text ``course_lib`` prints, one package per language (see :mod:`course_lib.i18n`)."""
