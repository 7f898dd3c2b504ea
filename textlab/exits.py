"""How a ``textlab`` command ends: user errors as one line on stderr and exit status 2, interruptions with the
shell's codes and how to go on; everything else (a bug) as a traceback."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Callable

from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.exceptions import SIGTERMException

from textlab.errors import TextlabError
from textlab.lightning_compat import early_stopping_metric


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (callers may swap it, as pytest does)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass


def not_an_advert(record: logging.LogRecord) -> bool:
    """Lightning advertises its cloud services on every run ("💡 Tip: ... try installing litlogger")."""
    return not str(record.msg).startswith("💡 Tip:")


def run_reporting_errors(run: Callable[[list[str] | None], object], args: list[str] | None = None) -> None:
    """``run(args)`` with the errors a user can cause reported as one line (see the module docstring)."""
    log = logging.getLogger("textlab")
    log.setLevel(logging.INFO)
    if not log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("textlab: %(message)s"))
        log.addHandler(handler)
    try:
        run(args)
    # Lightning stops at the next step on SIGTERM (SLURM's time limit, `kill`) by raising SIGTERMException, a
    # SystemExit without a code: the process would exit 0, and a job script would take the fit as finished.
    except SIGTERMException:
        _error(f"stopped by SIGTERM before the end{_resume_hint(args)}")
        sys.exit(128 + signal.SIGTERM)
    # Ctrl-C: Lightning ends the run properly (callbacks told, the output's temporary file removed) and then
    # calls sys.exit(1) while handling the KeyboardInterrupt. Exit as an interrupted command does, with the
    # shell's 130, and say how to go on. A Ctrl-C before or after the trainer runs arrives bare.
    except SystemExit as e:
        if not isinstance(e.__context__, KeyboardInterrupt):
            raise
        _interrupted(args)
    except KeyboardInterrupt:
        _interrupted(args)
    # `textlab predict ... | head`: the reader of stdout has gone, as it may. End quietly, as Unix tools do; the
    # interpreter would otherwise report the same error again when it flushes stdout at exit.
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(128 + signal.SIGPIPE)
    # MisconfigurationException: Lightning's word for settings that contradict each other (user input too)
    except (TextlabError, MisconfigurationException) as e:
        _error(str(e))
        sys.exit(2)
    # EarlyStopping (strict, its default) raises a bare RuntimeError when its metric was never logged: a
    # misspelt name, or an epoch that ended before any validation ran (--trainer.max_steps within the
    # epoch, --trainer.limit_val_batches 0). Both are the user's settings: one line.
    except RuntimeError as e:
        found = early_stopping_metric(e)
        if found is None:
            raise
        monitor, logged = found
        _error(f"EarlyStopping monitors {monitor}, which nothing had logged when it checked (logged: "
               f"{logged.replace('`', '')}): a misspelt name, or no validation before the end of the epoch "
               f"(--trainer.max_steps, --trainer.limit_val_batches 0); fix that, or remove the callback")
        sys.exit(2)
    # A file or folder the system refuses (read-only, not a folder, no permission), e.g. the run folder
    # --trainer.default_root_dir names: the user's setting or machine, so one line. Others are bugs: traceback.
    except OSError as e:
        if e.filename is None:
            raise
        _error(f"{e.filename}: {e.strerror}")
        sys.exit(2)
    finally:
        _leave_process_group()




def _error(message: str) -> None:
    """The one error line, on a line of its own. A run stopped mid-epoch leaves its progress bar's line open
    (tqdm redraws it with carriage returns and ends it only when the bar closes), and on a terminal the bar,
    on stdout, and this line, on stderr, would share it. (Lightning ends that line itself on Ctrl-C.)"""
    tqdm = sys.modules.get("tqdm.std")  # imported only if a bar could have been drawn
    if tqdm is not None and any(not getattr(bar, "disable", True) for bar in list(tqdm.tqdm._instances)):
        sys.stdout.write("\n")
        sys.stdout.flush()
    print(f"textlab: error: {message}", file=sys.stderr)


def _resume_hint(args: list[str] | None) -> str:
    """What to do after a stopped fit; other commands are simply run again."""
    argv = sys.argv[1:] if args is None else args
    return "; resume with --ckpt_path last" if argv[:1] == ["fit"] else ""


def _interrupted(args: list[str] | None) -> None:
    print(f"textlab: error: interrupted (Ctrl-C) before the end{_resume_hint(args)}", file=sys.stderr)
    sys.exit(128 + signal.SIGINT)


def _leave_process_group() -> None:
    """End the DDP process group while the interpreter is whole.

    Lightning ends it at exit for NCCL only. A gloo group (DDP on CPUs) left to the interpreter's shutdown
    has its worker threads destroyed mid-teardown, and the process can abort with "terminate called without
    an active exception" (SIGABRT) after a run that succeeded (pytorch/pytorch#190489).
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
