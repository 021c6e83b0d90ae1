"""ISO 7816 transport: the CardConnection port, APDUs, PC/SC and in-process adapters, events."""
