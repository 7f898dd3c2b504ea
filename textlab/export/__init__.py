"""``textlab export``: a trained model as an ONNX model plus its vocabularies, for inference without PyTorch
(``textlab.runtime``). Needs the ``export`` extra (onnx, onnxruntime)."""
