"""Our NLU components for Rasa: a pretrained sentence encoder and the classifier that uses it."""
