"""Aftercare Assistant: day-aware aftercare answers for skin-needling clinics."""

__version__ = "0.1.0"
