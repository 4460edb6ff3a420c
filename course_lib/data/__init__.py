"""Dataset download, verification and loaders (Omniglot, ASSISTments, sinusoid tasks).

* :mod:`course_lib.data.fetch` — known files, checksums, downloads into ``data_dir()``.
* :mod:`course_lib.data.omniglot` — Omniglot character sets and Lake's one-shot runs.
* :mod:`course_lib.data.assistments` — knowledge-tracing sequences (three-line format).
* :mod:`course_lib.data.sinusoid` — the MAML sinusoid regression task family.
"""

from course_lib.data.assistments import (
    DataFormatError,
    KTDataset,
    StudentSequence,
    load_assistments,
    load_kt_splits,
    parse_skill_mapping,
    parse_three_line,
)
from course_lib.data.fetch import (
    FILES,
    DataError,
    RemoteFile,
    download_file,
    ensure_file,
    file_status,
    md5sum,
)
from course_lib.data.omniglot import (
    CharacterSet,
    OneShotRun,
    load_background_small,
    load_lake_runs,
    load_omniglot,
    merge_character_sets,
    split_characters,
)
from course_lib.data.sinusoid import SinusoidTaskFamily, SinusoidTasks

__all__ = [
    "FILES",
    "CharacterSet",
    "DataError",
    "DataFormatError",
    "KTDataset",
    "OneShotRun",
    "RemoteFile",
    "SinusoidTaskFamily",
    "SinusoidTasks",
    "StudentSequence",
    "download_file",
    "ensure_file",
    "file_status",
    "load_assistments",
    "load_background_small",
    "load_kt_splits",
    "load_lake_runs",
    "load_omniglot",
    "md5sum",
    "merge_character_sets",
    "parse_skill_mapping",
    "parse_three_line",
    "split_characters",
]
