"""Discovery: what each venue has active, written where the collector can pick it up."""
