"""The live knowledge base: reloaded when the clinic's files change, last good one kept.

`ClinicStore.current()` is cheap (a stat of each clinic file) and is called on every message,
so a valid edit is used on the next message without retraining or restart. An invalid edit
is logged with file and line, and the last good snapshot stays live.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from bot.kb.loader import KnowledgeBaseError, clinic_files, load_clinic
from bot.kb.model import Clinic

log = logging.getLogger(__name__)


class ClinicStore:
    """Holds the current clinic snapshot and reloads it when its files change."""

    def __init__(self, clinic_dir: Path, known_topics: Iterable[str] | None = None):
        self.clinic_dir = Path(clinic_dir)
        self.known_topics = set(known_topics) if known_topics is not None else None
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._clinic: Clinic | None = None
        self.last_error: KnowledgeBaseError | None = None

    def _files_signature(self) -> tuple:
        signature = []
        for path in clinic_files(self.clinic_dir):
            try:
                stat = path.stat()
                signature.append((str(path), stat.st_mtime_ns, stat.st_size))
            except OSError:
                signature.append((str(path), None, None))
        return tuple(signature)

    def current(self) -> Clinic:
        """The clinic snapshot to answer with; raises only if no valid one was ever loaded."""
        signature = self._files_signature()
        with self._lock:
            if signature != self._signature:
                self._signature = signature
                try:
                    self._clinic = load_clinic(self.clinic_dir, self.known_topics)
                    self.last_error = None
                    log.info("Loaded clinic knowledge base %s", self._clinic.kb.version)
                except Exception as exc:  # any failure keeps the last good KB
                    self.last_error = exc
                    if self._clinic is None:
                        raise
                    log.error(
                        "Clinic files have errors; still using knowledge base %s:\n%s",
                        self._clinic.kb.version,
                        exc,
                    )
            assert self._clinic is not None
            return self._clinic
