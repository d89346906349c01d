"""Storage: every table, the engine, the repositories, forgetting a client, and Rasa's tracker store."""
