"""Friendly errors of campaign memory: input problems (each names the file), a busy guild, a full plan, an unknown
document. Shown to the GM as they are."""

from __future__ import annotations

from bot.errors import UserFacingError
from bot.sizes import format_bytes

__all__ = [
    "CorruptDocument",
    "DocumentNotFound",
    "DocumentTooComplex",
    "EmbedderUnavailable",
    "EmbeddingRefused",
    "EmptyDocument",
    "EncryptedDocument",
    "FileTooLarge",
    "ImportBusy",
    "ImportProblem",
    "LockUnavailable",
    "MemoryFull",
    "NoTextLayer",
    "UnsupportedFile",
    "VectorsNotStored",
]


class ImportProblem(UserFacingError):
    """Base class: something about an uploaded file the GM can fix."""

    def __init__(self, file_name: str, message: str, *, title: str = "Can't import that file") -> None:
        super().__init__(message, title=title)
        self.file_name = file_name


class UnsupportedFile(ImportProblem):
    """Wrong extension or content type."""

    def __init__(self, file_name: str, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(
            file_name,
            f"**{file_name}** isn't a file type I can read{extra}. "
            "Upload Markdown (.md), plain text (.txt), PDF (.pdf), Word (.docx) or a .zip of Markdown notes.",
        )


class FileTooLarge(ImportProblem):
    """Over the size limit."""

    def __init__(self, file_name: str, size: int, max_bytes: int) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** is {format_bytes(size)}, over the {format_bytes(max_bytes)} limit. "
            "Split it into smaller files and import them separately.",
        )
        self.size = size
        self.max_bytes = max_bytes


class EmptyDocument(ImportProblem):
    """No bytes, or no readable text after parsing."""

    def __init__(self, file_name: str) -> None:
        super().__init__(file_name, f"**{file_name}** is empty: there is no text in it to remember.")


class CorruptDocument(ImportProblem):
    """The file claims a format but cannot be read as it."""

    def __init__(self, file_name: str, kind: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** looks damaged: I couldn't read it as a {kind} file. "
            "Try exporting or saving it again, then re-import it.",
        )


class EncryptedDocument(ImportProblem):
    """Password-protected PDF or DOCX."""

    def __init__(self, file_name: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** is password-protected. Save a copy without the password and import that.",
        )


class NoTextLayer(ImportProblem):
    """A scanned PDF: pages are images, so there is no text to extract."""

    def __init__(self, file_name: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** has no text layer (it looks like scanned images). "
            "Run it through OCR first (many PDF tools can), or import the notes as text.",
        )


class DocumentTooComplex(ImportProblem):
    """An archive that would expand beyond safe limits (possible zip bomb)."""

    def __init__(self, file_name: str, detail: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** is too large or complex inside to open safely ({detail}). "
            "Save it again without embedded media, or export it as PDF or text.",
        )


class VectorsNotStored(ImportProblem):
    """The vector store did not take a file's vectors (after its own retries); nothing of the file was kept."""

    def __init__(self, file_name: str, detail: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** wasn't imported: the vector store did not take its passages ({detail[:300]}). "
            "Nothing of it was kept. Import it again later; if it fails again, tell the bot's operator.",
            title="Couldn't store that file",
        )


class EmbedderUnavailable(UserFacingError):
    """The embedding model could not be loaded or reached."""

    def __init__(self, detail: str, *, lead: str = "Campaign memory can't index text right now") -> None:
        super().__init__(f"{lead}: {detail}", title="Memory unavailable")


class EmbeddingRefused(EmbedderUnavailable):
    """The embedding service refused a request for good (a client error that retrying cannot fix): the GM reads
    the service's own message and that an operator has to act."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        what = f"HTTP {status}, {code}" if code else f"HTTP {status}"
        super().__init__(
            f"the embedding service refused the request ({what}): {message.rstrip('.')}. "
            "Trying again won't help: ask the bot's operator to check its embedding settings.",
            lead="Campaign memory can't index this",
        )
        self.status = status
        self.code = code


class ImportBusy(UserFacingError):
    """Another import (or forget) of this guild is running."""

    def __init__(self) -> None:
        super().__init__(
            "Another import is still running for this server. Wait for it to finish, then try again.",
            title="Import already running",
        )


class LockUnavailable(UserFacingError):
    """The service holding the guilds' write locks (Redis) does not answer, so no change can be made safely."""

    def __init__(self) -> None:
        super().__init__(
            "The lock service (Redis) isn't answering, so I can't change your notes safely right now. "
            "Nothing was changed. Try again in a minute.",
            title="Lock service unreachable",
        )


class MemoryFull(UserFacingError):
    """The guild's plan keeps fewer bytes of notes than this import would need."""

    def __init__(self, file_name: str, needed: int, limit: int) -> None:
        super().__init__(
            f"**{file_name}** doesn't fit: your notes would take {format_bytes(needed)} and this server's plan "
            f"keeps {format_bytes(limit)}. Forget a document with `/campaign forget`, or upgrade the plan.",
            title="Campaign memory is full",
        )


class DocumentNotFound(UserFacingError):
    """No such document in this guild's memory."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"There is no document **{what}** in this server's campaign memory. `/campaign list` shows them all.",
            title="No such document",
        )
