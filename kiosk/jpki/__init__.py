"""The JPKI application (公的個人認証AP) of the My Number Card over a card connection."""
