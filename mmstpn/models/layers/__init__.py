from .prompt_attention import (merge_windows, pad_bias_for_prompts,
                               partition_windows, prompted_window_attention,
                               shift_window_mask,
                               windowed_attention_with_prompts)
from .prompted_vit_block import PromptedViTBlock

__all__ = [
    'partition_windows', 'merge_windows', 'pad_bias_for_prompts',
    'windowed_attention_with_prompts', 'prompted_window_attention',
    'shift_window_mask', 'PromptedViTBlock'
]
