"""简体中文: ``MESSAGES`` dicts (English template -> Chinese template), one module per part of the library."""
