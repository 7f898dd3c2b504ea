"""``textlab serve``: a trained tagger or classifier behind HTTP (FastAPI and uvicorn), concurrent requests
batched into one model call. See docs/serving.md."""
