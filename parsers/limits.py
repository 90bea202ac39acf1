"""Size limits the parsers apply and the settings expose, in a module that imports nothing (the
settings load at every start; the mail parser and its HTML stack only when a mailbox is read)."""

MAIL_MAX_BYTES = 25_000_000  # one e-mail; a newsletter with a PDF is well under 5 MB
