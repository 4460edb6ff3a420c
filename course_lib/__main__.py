"""Command line: ``python -m course_lib doctor | data | list | run``.

``doctor`` checks the set-up (Python, packages, PyTorch, device, budget, data, cache folder) and
prints one line per check, ``OK`` or ``PROBLEM`` followed by the fix; it exits with status 1 when
there is any problem. ``data`` lists every known data file as verified, corrupt or missing, with
its URL and the command that fixes it; ``--download`` fetches files (``all`` for every one).
``list`` names the experiments that can run headless, with their expected time per budget; ``run
NAME [--budget B] [--device D] [--set KEY=VALUE ...]`` runs one: the chapter's own training code,
checkpointed (an interrupted run resumes; a finished one is reloaded), then its evaluation, written
to ``results/run-NAME.json``. Under ``torchrun --nproc_per_node N -m course_lib run ...`` the
meta-batch is split across the N processes (:mod:`course_lib.distributed`).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import os
import sys
import tempfile
from collections.abc import Callable

from course_lib import runtime
from course_lib.data import fetch
from course_lib.i18n import tr

MIN_PYTHON = (3, 11)
MIN_TORCH = (2, 1)
#: (import name, distribution name, what it is for)
REQUIRED_PACKAGES = [
    ("torch", "torch", "tensors and autograd"),
    ("numpy", "numpy", "arrays"),
    ("matplotlib", "matplotlib", "plots"),
    ("PIL", "pillow", "decoding Omniglot images"),
    ("tqdm", "tqdm", "progress bars"),
    ("ipywidgets", "ipywidgets", "interactive demos"),
]
OPTIONAL_PACKAGES = [
    ("jupyterlab", "jupyterlab", "opening the notebooks", "lab"),
    ("nbval", "nbval", "testing the notebooks", "test"),
]

Check = tuple[bool, str, str]  # (ok, name, message)


def _install_hint() -> str:
    return tr("pip install -e '.[lab,test]' (or `make lab`, which also creates the virtual environment)")


def _purpose(purpose: str) -> str:
    """What a package is for, in the learner's language (an unknown purpose is shown as given)."""
    return {"tensors and autograd": tr("tensors and autograd"), "arrays": tr("arrays"), "plots": tr("plots"),
            "decoding Omniglot images": tr("decoding Omniglot images"), "progress bars": tr("progress bars"),
            "interactive demos": tr("interactive demos"), "opening the notebooks": tr("opening the notebooks"),
            "testing the notebooks": tr("testing the notebooks")}.get(purpose, purpose)


def _version(distribution: str, module) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return getattr(module, "__version__", "unknown version")


def check_python() -> list[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= MIN_PYTHON:
        return [(True, "python", f"{version} ({sys.executable})")]
    need = ".".join(map(str, MIN_PYTHON))
    return [(False, "python", tr("{version} is too old; Python {need}+ is needed. Fix: install Python {need} "
                                 "or newer and recreate the environment (`make lab PYTHON=python{need}`).",
                                 version=version, need=need))]


def check_packages() -> list[Check]:
    results: list[Check] = []
    for module_name, dist, purpose in REQUIRED_PACKAGES:
        try:
            module = importlib.import_module(module_name)
        except Exception as err:  # ImportError, or a broken install raising something else
            results.append((False, module_name, tr("cannot be imported ({error}: {err}); needed for {purpose}. "
                                                   "Fix: {install}", error=type(err).__name__, err=err,
                                                   purpose=_purpose(purpose), install=_install_hint())))
        else:
            results.append((True, module_name, _version(dist, module)))
    for module_name, dist, purpose, extra in OPTIONAL_PACKAGES:
        try:
            module = importlib.import_module(module_name)
        except Exception:
            results.append((True, module_name, tr("not installed (optional, for {purpose}; "
                                                  "pip install -e '.[{extra}]')", purpose=_purpose(purpose),
                                                  extra=extra)))
        else:
            results.append((True, module_name, _version(dist, module)))
    return results


def check_torch() -> list[Check]:
    try:
        import torch
    except Exception:
        return []  # already reported by check_packages
    release = torch.__version__.split("+")[0]
    parts = tuple(int(p) for p in release.split(".")[:2] if p.isdigit())
    if parts < MIN_TORCH or not hasattr(torch, "func"):
        need = ".".join(map(str, MIN_TORCH))
        return [(False, tr("torch version"), tr("{version}: PyTorch {need}+ with torch.func is needed. "
                                                "Fix: {install}", version=torch.__version__, need=need,
                                                install=_install_hint()))]
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else tr("CPU-only build")
    return [(True, tr("torch version"), f"{torch.__version__} ({build})")]


def check_device() -> list[Check]:
    requested = os.environ.get("COURSE_DEVICE", "").strip()
    label = f"COURSE_DEVICE={requested}" if requested else tr("automatic choice")
    try:
        import torch

        device = runtime.get_device()
        value = torch.ones(4, device=device).sum().item()  # really run something there
        if value != 4.0:
            raise RuntimeError(tr("a sum of four ones gave {value} on {device}", value=value, device=device))
    except Exception as err:
        message = f"{label}: {err}"
        if "unset course_device" not in message.lower() and tr("Unset COURSE_DEVICE") not in message:
            message += tr(" Fix: unset COURSE_DEVICE (or set it to 'cpu') to use the CPU, or install a "
                          "PyTorch build for that accelerator.")
        return [(False, tr("device"), message)]
    name = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    return [(True, tr("device"), f"{device}{name}, {label}")]


def check_budget() -> list[Check]:
    try:
        return [(True, tr("budget"), f"{runtime.get_budget()} (COURSE_BUDGET)")]
    except ValueError as err:
        return [(False, tr("budget"), str(err))]


def check_data() -> list[Check]:
    folder = runtime.data_dir()
    results: list[Check] = []
    writable = fetch.is_writable(folder)
    if os.environ.get("COURSE_DATA_DIR") and not folder.is_dir():
        results.append((False, tr("data folder"), tr("COURSE_DATA_DIR={path} does not exist. Fix: correct the "
                                                     "path, create the folder, or unset COURSE_DATA_DIR to use the "
                                                     "default.", path=os.environ["COURSE_DATA_DIR"])))
    else:
        kind = tr("writable") if writable else tr("read-only (an offline mirror: nothing can be downloaded into it)")
        results.append((True, tr("data folder"), tr("{folder} ({kind})", folder=folder, kind=kind)))
    for row in fetch.file_status():
        name = row["key"]
        if row["status"] == "ok":
            results.append((True, name, tr("present, md5 verified")))
        elif row["status"] == "corrupt":
            results.append((False, name, tr("corrupt: md5 {actual}, expected {md5}. Fix: {fix}",
                                            actual=row["actual_md5"], md5=row["md5"], fix=row["fix"])))
        elif row["optional"]:
            results.append((True, name, tr("not present (large; needed only for the full Omniglot splits). "
                                           "Get it with: {fix}", fix=row["fix"])))
        elif writable:
            results.append((True, name, tr("not downloaded yet; fetched on first use, or now with: {fix}",
                                           fix=row["fix"])))
        else:
            results.append((False, name, tr("missing from the read-only data folder {folder}. Fix: add it to the "
                                            "mirror ({url}), or point COURSE_DATA_DIR at a writable folder and "
                                            "run `{fix}`.", folder=folder, url=row["url"], fix=row["fix"])))
    return results


def check_cache() -> list[Check]:
    try:
        folder = runtime.cache_dir()
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-", delete=True) as handle:
            handle.write(b"ok")
            handle.flush()
    except Exception as err:
        target = os.environ.get("COURSE_CACHE_DIR") or tr("the default cache folder")
        return [(False, tr("cache folder"), tr("{target} is not writable ({err}). Fix: set COURSE_CACHE_DIR to a "
                                               "writable folder, e.g. `export COURSE_CACHE_DIR=$HOME/.cache/course`.",
                                               target=target, err=err))]
    return [(True, tr("cache folder"), tr("{folder} (writable)", folder=folder))]


CHECKS: list[Callable[[], list[Check]]] = [
    check_python, check_packages, check_torch, check_device, check_budget, check_data, check_cache,
]


def doctor() -> int:
    """Run every check, print one line each, and return 1 if anything is a problem (else 0)."""
    problems = 0
    for check in CHECKS:
        try:
            results = check()
        except Exception as err:  # a check itself failing is a problem worth reporting, not a crash
            results = [(False, check.__name__.removeprefix("check_"), tr("the check failed: {err!r}", err=err))]
        for ok, name, message in results:
            problems += not ok
            print(f"{tr('OK') if ok else tr('PROBLEM'):<8} {name:<48} {message}")
    print(tr("{n} problem(s) found.", n=problems) if problems else tr("Everything looks fine."))
    return 1 if problems else 0


def data(download: list[str] | None) -> int:
    """List the data files; download the named ones (``all`` = every file). Returns an exit status."""
    folder = runtime.data_dir()
    writable = fetch.is_writable(folder)
    print(f"data folder: {folder} ({'writable' if writable else 'read-only'}; set COURSE_DATA_DIR to change)")
    status = 0
    if download:
        keys = list(fetch.FILES) if "all" in download else download
        unknown = [k for k in keys if k not in fetch.FILES]
        if unknown:
            known = "\n  ".join(["all", *fetch.FILES])
            print(f"unknown data file(s): {', '.join(unknown)}. Known:\n  {known}", file=sys.stderr)
            return 2
        for row in fetch.file_status(keys):
            if row["status"] == "ok":
                print(f"{row['key']}: already present, md5 verified")
                continue
            try:
                path = fetch.download_file(row["key"])
                print(f"{row['key']}: downloaded to {path}, md5 verified")
            except fetch.DataError as err:
                print(f"{row['key']}: FAILED\n{err}", file=sys.stderr)
                status = 1
    for row in fetch.file_status():
        label = {"ok": "OK", "corrupt": "CORRUPT", "missing": "MISSING"}[row["status"]]
        extra = " (optional, large)" if row["optional"] else ""
        print(f"{label:<8} {row['key']}{extra}\n         from {row['url']}")
        if row["status"] == "corrupt":
            print(f"         md5 {row['actual_md5']} but expected {row['md5']}; fix: {row['fix']}")
            status = 1
        elif row["status"] == "missing":
            print(f"         md5 {row['md5']}; fix: {row['fix']}")
    return status


def _setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> (key, value), the value read as a Python literal (``24``, ``1e-3``) or kept as text."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. meta_batch_size=24), got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="check Python, packages, device, budget, data and cache folder")
    data_parser = commands.add_parser("data", help="list data files; --download KEY|all fetches them")
    data_parser.add_argument("--download", nargs="+", metavar="KEY",
                             help="file key(s) as listed, or 'all'; replaces missing or corrupt copies")
    commands.add_parser("list", help="name the experiments that run headless, with their expected time per budget")
    run_parser = commands.add_parser(
        "run", help="run one experiment headless (checkpointed, resumable; torchrun: several processes)",
        description="Run an experiment with its chapter's training code: the checkpoint it writes is the one "
                    "the notebook reloads, and its numbers go to results/run-NAME.json. An interrupted run "
                    "resumes from its checkpoint. Several processes: torchrun --nproc_per_node N -m course_lib "
                    "run NAME (the meta-batch must divide by N).")
    run_parser.add_argument("experiment", help="its name, as listed by `python -m course_lib list`")
    run_parser.add_argument("--budget", choices=runtime.BUDGETS, default=None,
                            help="smoke | standard | full (default: COURSE_BUDGET, else standard)")
    run_parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: COURSE_DEVICE or the "
                                                           "best available; under torchrun each process takes "
                                                           "its own GPU)")
    run_parser.add_argument("--set", dest="settings", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                            help="override a training setting, e.g. --set meta_batch_size=24 (repeatable)")
    run_parser.add_argument("--results-dir", default=None, help="folder for run-NAME.json (default: results/)")
    run_parser.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. in logs)")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return doctor()
    if args.command in ("list", "run"):
        from course_lib.experiments import registry

        if args.command == "list":
            return registry.print_list()
        return registry.run_named(args.experiment, args.budget or runtime.get_budget(), args.device,
                                  dict(args.settings), args.results_dir, not args.no_progress)
    return data(args.download)


if __name__ == "__main__":
    sys.exit(main())
