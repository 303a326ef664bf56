"""Joining untrusted names (remote listings, header keywords) to a directory without leaving it."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["safe_join"]


def safe_join(root: str | os.PathLike, relpath: str, *, what: str = "file name") -> Path:
    """``root / relpath``, refusing any ``relpath`` that could leave ``root``.

    Names from a remote listing (HTTPS index, S3 keys) or a header keyword are not trusted:
    absolute paths, ``..`` or ``.`` components, empty components, backslashes and NUL bytes are
    refused, and the joined path's directory must resolve (symlinks followed) inside ``root``.

    Raises
    ------
    ValueError
        Naming the offending name and the directory it would have left.
    """
    text = str(relpath)
    parts = text.split("/")
    bad = (
        not text
        or text.startswith("/")
        or "\\" in text
        or "\0" in text
        or any(part in ("", ".", "..") for part in parts)
        or re.match(r"^[A-Za-z]:", text) is not None
    )
    root_path = Path(root)
    if not bad:
        joined = root_path.joinpath(*parts)
        base = root_path.resolve()
        if joined.parent.resolve() == base or joined.parent.resolve().is_relative_to(base):
            return joined
    raise ValueError(f"unsafe {what} {text!r}: it would leave {root_path}; refusing to use it")
