"""The clinic's aftercare knowledge base: model (`model`), loader/validator (`loader`), live store (`store`)."""
