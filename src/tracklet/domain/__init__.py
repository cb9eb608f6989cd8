"""Plain values of the tracking domain: no I/O, no framework imports."""
