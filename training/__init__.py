"""Training stage: public-data adapters → dataset build → fit (transformer + baseline) → export (ONNX bundle)."""
