"""The test-time support policy of an STPN backbone (declared once)."""
from dataclasses import asdict, dataclass
from typing import Optional, Union

SUPPORT_MODES = ('offline', 'online', 'frames')
# what the test pipeline (SupportFrameSample) loads for each mode
PIPELINE_METHODS = {
    'offline': 'test_with_adaptive_stride',
    'online': 'online',
    'frames': 'test_with_fix_stride',
}


@dataclass(frozen=True)
class SupportPolicy:
    """Where a frame's prompts come from at test time.

    Declared on the backbone (``test_support=dict(...)``); the test pipeline
    derives what it loads from it (``SupportFrameSample(method='from_model')``
    + ``VideoContextHook``). Switching a trained model offline <-> online is
    one key: ``--cfg-options model.backbone.test_support.mode=online``.

    Args:
        mode (str): ``'offline'`` (released): frame 0 of a video carries
            ``num_support`` frames spread over the whole video, its prompts
            are cached and reused for the video. ``'online'`` (causal): the
            unprompted tokens of every ``stride``-th frame are cached when it
            arrives; a frame's support is the ``num_support`` latest cached
            frames strictly before it (frame 0: itself). ``'frames'``: every
            frame carries ``num_support`` neighbours ``t + stride*j``; no
            cache.
        num_support (int): K. Defaults to 14 (released test).
        stride (int): S of 'online' and 'frames'. Defaults to 1.

    Raises:
        ValueError: An unknown ``mode``, or ``num_support`` / ``stride``
            not an int >= 1 (naming the config key).

    See docs/design/video_context.md.
    """

    mode: str = 'offline'
    num_support: int = 14
    stride: int = 1

    def __post_init__(self) -> None:
        if self.mode not in SUPPORT_MODES:
            raise ValueError(
                f'model.backbone.test_support.mode must be one of '
                f'{SUPPORT_MODES}, got {self.mode!r}')
        for name in ('num_support', 'stride'):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'model.backbone.test_support.{name} must '
                                 f'be an int >= 1, got {value!r}')

    @classmethod
    def build(cls, cfg: Union[None, dict, 'SupportPolicy']
              ) -> 'SupportPolicy':
        """A policy from its config value.

        Args:
            cfg (dict | SupportPolicy, optional): Keys ``mode``,
                ``num_support``, ``stride`` (missing ones take the
                defaults); a policy is returned as it is; None: the
                defaults.

        Returns:
            SupportPolicy: The policy.

        Raises:
            ValueError: Unknown keys or invalid values.
        """
        if cfg is None:
            return cls()
        if isinstance(cfg, SupportPolicy):
            return cfg
        unknown = set(cfg) - {'mode', 'num_support', 'stride'}
        if unknown:
            raise ValueError('model.backbone.test_support has unknown keys '
                             f'{sorted(unknown)}; valid: mode, num_support, '
                             'stride')
        return cls(**dict(cfg))

    @property
    def cached(self) -> bool:
        """Whether the backbone keeps per-video state in this mode."""
        return self.mode != 'frames'

    @property
    def pipeline_method(self) -> str:
        """``SupportFrameSample`` method that loads what this mode needs."""
        return PIPELINE_METHODS[self.mode]

    def describe(self, where: Optional[str] = 'model.backbone.test_support'
                 ) -> str:
        """The policy as its config key would set it.

        Args:
            where (str): The config key to name.

        Returns:
            str: ``where=dict(mode=..., num_support=..., stride=...)``.
        """
        body = ', '.join(f'{k}={v!r}' for k, v in asdict(self).items())
        return f'{where}=dict({body})'
