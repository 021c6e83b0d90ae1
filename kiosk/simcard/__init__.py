"""The virtual My Number Card: the JPKI applet (applet.py) and its vpcd adapter (vpcd.py)."""
