"""Features: TF-IDF and sentence embeddings, cached on disk by model id + text hash."""
