from .inference import (VideoInferencer, build_test_pipeline, inference_sot,
                        inference_video, init_model)

__all__ = [
    'init_model', 'VideoInferencer', 'inference_video', 'inference_sot',
    'build_test_pipeline'
]
