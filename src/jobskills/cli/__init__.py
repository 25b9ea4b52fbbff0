"""The ``jobskills`` command line: the front door for people."""
