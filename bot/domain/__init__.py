"""Pure rules: treatment days, intents, answers from the KB, triage of red flags, the turn."""
