"""Deleting files last modified before a cutoff (log archives, temp files)."""

import fnmatch
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class FilesDeleted:
    count: int = 0
    bytes: int = 0

    def __add__(self, other: "FilesDeleted") -> "FilesDeleted":
        return FilesDeleted(self.count + other.count, self.bytes + other.bytes)


def delete_files_older_than(
    directory: Path, *, cutoff: datetime, pattern: str = "*", recursive: bool = False
) -> FilesDeleted:
    """Delete the files whose name matches `pattern` and whose modification time is before
    `cutoff`. Symlinks are removed themselves, never followed; directories stay.
    `bytes` adds up the sizes lstat() gave just before each unlink."""
    if not directory.is_dir():
        return FilesDeleted()
    limit = cutoff.timestamp()
    count = size = 0
    for path in _candidates(directory, pattern, recursive):
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode) or st.st_mtime >= limit:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        count += 1
        size += st.st_size
    return FilesDeleted(count, size)


def _candidates(directory: Path, pattern: str, recursive: bool) -> Iterator[Path]:
    if not recursive:
        for entry in os.scandir(directory):
            if fnmatch.fnmatchcase(entry.name, pattern):
                yield Path(entry.path)
        return
    for root, _dirs, files in os.walk(directory, followlinks=False):
        for name in files:
            if fnmatch.fnmatchcase(name, pattern):
                yield Path(root) / name
