from .prompt_supervised import PromptSupervisedFasterRCNN

__all__ = ['PromptSupervisedFasterRCNN']
