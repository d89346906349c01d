"""The clinic's aftercare knowledge base: model, loader/validator and live store."""

from bot.kb.loader import KnowledgeBaseError, load_clinic
from bot.kb.model import Clinic, KnowledgeBase, Topic

__all__ = ["Clinic", "KnowledgeBase", "KnowledgeBaseError", "Topic", "load_clinic"]
