"""The character sets an HL7 message may name in MSH-18, and the Python codec of each.

Both the HL7 listener (decoding what arrives) and IT's message log (showing what was stored,
under the label it came with) read a message's bytes by its label, so the table lives here,
where both may import it.

HL7 table 0211 labels, with the spellings HIS systems use for the same charsets
(``GB18030``, ``GBK``, ``UTF-8``), looked up without case, spaces, hyphens or underscores.
GB 2312 and GBK are subsets of GB 18030, so it reads them. An empty MSH-18 means the default
(UTF-8 here, which is also plain ASCII's superset). A label that does not say which bytes it
means (``CHINESE``) is refused rather than guessed: read with the wrong charset, a name would
be mangled without an error.
"""

from __future__ import annotations

import re

DEFAULT_CHARSET_LABEL = "UNICODE UTF-8"

CHARSETS: dict[str, str] = {
    "": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "GB 18030-2000": "gb18030",
    "GB18030": "gb18030",
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "ISO IR58": "gb18030",  # table 0211's GB 2312
    "ASCII": "ascii",
    "8859/1": "latin-1",
}

_SPELLING = re.compile(r"[\s_-]")
_CODECS = {_SPELLING.sub("", label): codec for label, codec in CHARSETS.items()}


def label_key(label: str) -> str:
    """``label`` as the table is looked up: upper case, no spaces, hyphens or underscores."""
    return _SPELLING.sub("", label.strip().upper())


def codec_for(label: str) -> str | None:
    """The codec of an MSH-18 label, however spelt; ``None`` for a label we do not accept."""
    return _CODECS.get(label_key(label))
