"""Processes: the runner, the action and Rasa servers, training, the local harness, the demo site."""
