"""The HTTP intake: the form, the signatures endpoint, rate limits."""
