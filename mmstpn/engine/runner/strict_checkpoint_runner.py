"""mmengine's Runner with checked loads, atomic saves and a resume that
falls back to the newest checkpoint that can be read."""
import os
import os.path as osp
from typing import Callable, Optional, Union

from mmdet.registry import RUNNERS
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from torch import nn

from mmstpn.utils.checkpoint_io import (CheckpointReadError, publish,
                                        read_checkpoint,
                                        load_state_dict_checked,
                                        resume_candidates, temporary_name)


@RUNNERS.register_module()
class StrictCheckpointRunner(Runner):
    """``mmengine.runner.Runner`` whose checkpoints are safe to rely on.

    * Loading (``load_from``, ``resume``, ``tools/test.py``'s checkpoint):
      the file is read with :func:`~mmstpn.utils.checkpoint_io.
      read_checkpoint` (a missing, random, truncated or unsafe file is a
      ``CheckpointReadError`` naming it) and loaded only if its keys and
      shapes fit the model (:func:`~mmstpn.utils.checkpoint_io.
      load_state_dict_checked`); a partial load needs the explicit
      ``allow_partial_load = True`` in the config (``--allow-partial-load``
      of the tools). The ``after_load_checkpoint`` hooks run between
      reading and loading, as in mmengine.
    * Saving (``CheckpointHook``): to a local folder the checkpoint is
      written to a hidden temporary file beside its final name, flushed to
      disk and renamed with ``os.replace``: the final file is complete or
      absent, never partial. Other backends (e.g. ``petrel://``) are
      written by mmengine as they are.
    * Automatic resume (``resume=True`` without ``load_from``; ``--resume``
      without a path): the candidates are the file ``last_checkpoint``
      names, then every ``epoch_N.pth`` / ``iter_N.pth``, newest first
      (:func:`~mmstpn.utils.checkpoint_io.resume_candidates`); the first
      one that can be read is resumed from, and each one skipped is logged
      with the reason. Temporary files of interrupted saves are removed
      (logged). No readable candidate at all is an error; no candidate is
      a fresh start (as mmengine). A checkpoint named explicitly
      (``--resume PATH``) is used or fails, never replaced by another.
      Guarantee: a run killed at any moment, while saving included, resumes
      from its last completed checkpoint, i.e. loses at most the
      iterations since then (less than one checkpoint interval plus the
      interrupted save), provided ``CheckpointHook.max_keep_ckpts`` is not
      1 (mmengine deletes the oldest kept checkpoint before it writes the
      next; ``train`` warns about that setting).

    Built by :func:`mmstpn.utils.launch.build_runner` (``tools/train.py``,
    ``tools/test.py``) unless the config names another ``runner_type``.
    """

    @property
    def allow_partial_load(self) -> bool:
        """The config's explicit opt-in to partial loads."""
        return bool(self.cfg.get('allow_partial_load', False))

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module\.', '')]) -> dict:
        """Read ``filename``, run the ``after_load_checkpoint`` hooks and
        load it if its weights fit (see the class doc).

        Args:
            filename (str): The checkpoint (local path or mmengine scheme).
            map_location (str | Callable): As ``torch.load``.
            strict (bool): Accepted for mmengine's signature; the check is
                always made and only ``allow_partial_load`` in the config
                relaxes it.
            revise_keys (list): ``(pattern, replacement)`` key rewrites.
                Defaults to stripping ``module.``.

        Returns:
            dict: The checkpoint.

        Raises:
            CheckpointReadError: The file cannot be read.
            CheckpointMismatchError: The weights do not fit and the config
                does not set ``allow_partial_load``.
        """
        checkpoint = read_checkpoint(filename, map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) \
            else self.model
        load_state_dict_checked(model, checkpoint, filename,
                                self.allow_partial_load, revise_keys,
                                self.logger)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """mmengine's ``save_checkpoint``, written atomically to a local
        folder (see the class doc).

        Args:
            out_dir, filename, file_client_args, save_optimizer,
            save_param_scheduler, meta, by_epoch, backend_args: As
                mmengine's ``Runner.save_checkpoint``.
        """
        args = (file_client_args, save_optimizer, save_param_scheduler, meta,
                by_epoch, backend_args)
        if file_client_args is not None or not isinstance(
                get_file_backend(out_dir, backend_args=backend_args),
                LocalBackend):
            super().save_checkpoint(out_dir, filename, *args)
            return
        final = osp.join(out_dir, filename)
        tmp = temporary_name(final)
        try:
            # mmengine's method is master_only: other ranks write nothing
            super().save_checkpoint(
                osp.dirname(tmp), osp.basename(tmp), *args)
            if is_main_process():
                publish(tmp, final)
        finally:
            if osp.exists(tmp) and is_main_process():
                os.remove(tmp)

    def train(self) -> nn.Module:
        """mmengine's ``train``, after warning about a ``CheckpointHook``
        with ``max_keep_ckpts=1``: mmengine deletes the previous checkpoint
        BEFORE writing the next one, so a crash while saving would leave
        none.

        Returns:
            nn.Module: The trained model (mmengine's return value).
        """
        for hook in self.hooks:
            if isinstance(hook, CheckpointHook) and hook.max_keep_ckpts == 1:
                self.logger.warning(
                    'CheckpointHook(max_keep_ckpts=1) deletes the previous '
                    'checkpoint before it writes the next: a run killed '
                    'while saving keeps no checkpoint. Use max_keep_ckpts '
                    '>= 2 (or -1) for the resume guarantee')
        return super().train()

    def load_or_resume(self) -> None:
        """mmengine's ``load_or_resume``, with the fallback of the class
        doc for an automatic resume."""
        if self._has_loaded:
            return None
        if self._resume and self._load_from is None:
            self._resume_newest_readable()
            return None
        return super().load_or_resume()

    def _resume_newest_readable(self) -> None:
        candidates, stale = resume_candidates(self.work_dir)
        if stale and is_main_process():
            for path in stale:
                os.remove(path)
            self.logger.warning(
                f'auto resume: removed {len(stale)} temporary file(s) left '
                f'by interrupted checkpoint saves: {stale}')
        if not candidates:
            self.logger.info(f'auto resume: no checkpoint in {self.work_dir}'
                             '; training starts from the beginning')
            return
        skipped = []
        for path in candidates:
            try:
                self.resume(path)
            except CheckpointReadError as err:
                self.logger.warning(f'auto resume: skipping {path}: {err}')
                skipped.append(path)
                continue
            note = (f' (newest readable checkpoint; skipped {skipped})'
                    if skipped else '')
            self.logger.info(f'Auto resumed from {path}{note}')
            self._has_loaded = True
            return
        raise CheckpointReadError(
            f'auto resume: none of the {len(candidates)} checkpoints in '
            f'{self.work_dir} can be read ({candidates[:5]}; reasons '
            'logged above); remove them or train without --resume')
