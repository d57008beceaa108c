"""Process plumbing: logging, loop lag, the signal runner and the child supervisor."""
