"""Dataset download, verification and loaders (Omniglot, ASSISTments, sinusoid tasks).

* :mod:`course_lib.data.catalog` — the known files, their URLs and checksums.
* :mod:`course_lib.data.fetch` — locating, checking and downloading them into ``data_dir()``.
* :mod:`course_lib.data.omniglot` — Omniglot character sets (decoded by ``omniglot_archive``).
* :mod:`course_lib.data.omniglot_runs` — Lake's 20 one-shot runs.
* :mod:`course_lib.data.assistments` — knowledge-tracing sequences (three-line format).
* :mod:`course_lib.data.sinusoid` — the MAML sinusoid regression task family.
* :mod:`course_lib.data.task_streams` — streams of tasks (one alphabet each) for continual learning.
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
from course_lib.data.catalog import FILES, DataError, RemoteFile, md5sum
from course_lib.data.fetch import download_file, ensure_file, file_status
from course_lib.data.omniglot import (
    CharacterSet,
    load_background_small,
    load_omniglot,
    merge_character_sets,
    split_characters,
)
from course_lib.data.omniglot_runs import OneShotRun, load_lake_runs
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
