"""Screening of every client message for symptoms, red-flag signs and emergencies."""
