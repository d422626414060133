"""Serving stage: BentoML service on an ONNX bundle, action policy, review queue and reviewer UI. Never imports torch."""
