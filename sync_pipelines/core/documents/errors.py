"""The error every parser raises for bytes it cannot turn into text."""

MAX_PAGES = 7000
"""Most pages (PDF pages, slides) one document may have, as the hosted service allows."""


class ParseError(Exception):
    """An object whose bytes cannot be turned into text.

    Attributes:
        key: The object key (S3 key, repository path or page URL).
        reason: Why it could not be parsed, e.g. ``"binary content (NUL byte at offset 3)"``
            or ``"encrypted Word document (a password is required)"``.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def check_page_count(key: str, pages: int, unit: str = "pages") -> None:
    """Refuse a document of more than :data:`MAX_PAGES` pages before reading them.

    Raises:
        ParseError: Naming the count and the limit.
    """
    if pages > MAX_PAGES:
        raise ParseError(key, f"document has {pages} {unit}, over the {MAX_PAGES}-page limit")


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_not_encrypted_ooxml(key: str, data: bytes, label: str) -> None:
    """Refuse a password-protected Office Open XML file (``.docx``, ``.xlsx``, ``.pptx``).

    Office encrypts such files into an OLE compound file instead of a zip archive, so an
    OOXML suffix on OLE bytes means a password is required.

    Raises:
        ParseError: ``encrypted <label> (a password is required)``.
    """
    if data.startswith(_OLE_MAGIC) and (b"E\x00n\x00c\x00r\x00y\x00p\x00t" in data[:65536]):
        raise ParseError(key, f"encrypted {label} (a password is required)")
