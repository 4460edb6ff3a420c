"""Dataset download, verification and loaders (Omniglot, ASSISTments, sinusoid tasks)."""

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

__all__ = [
    "FILES",
    "CharacterSet",
    "DataError",
    "OneShotRun",
    "RemoteFile",
    "download_file",
    "ensure_file",
    "file_status",
    "load_background_small",
    "load_lake_runs",
    "load_omniglot",
    "md5sum",
    "merge_character_sets",
    "split_characters",
]
