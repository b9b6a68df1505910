"""The ``tersify`` command line.

``tersify compress``: compress files (one document each) or standard input, or a JSON-lines
file of requests with a progress bar. ``tersify batch``: a corpus, resumable, optionally on Ray
(:mod:`tersify.integrations.batch`). ``tersify demo``: compress the bundled example RAG prompt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

from tersify.compressor import Compressor
from tersify.errors import InvalidRequestError, MissingDependencyError, TersifyError
from tersify.integrations._corpus import json_object
from tersify.integrations.batch import add_command as add_batch_command
from tersify.integrations.batch import run_command as run_batch_command
from tersify.policies import available_policies, get_policy
from tersify.presets import available_presets
from tersify.scorers import available_scorers
from tersify.types import (
    DOCUMENT_KINDS,
    REORDERS,
    CompressionRequest,
    CompressionResult,
    Document,
    DocumentKind,
)
from tersify.wire import request_from_dict

# Files read as source code (Document.kind "code"): cut into whole blocks, never into sentences.
# Any other file is told apart by its lines (kind "auto").
CODE_SUFFIXES = frozenset(
    ".py .pyi .js .mjs .cjs .ts .tsx .jsx .java .kt .kts .scala .go .rs .c .h .cc .cpp .cxx .hpp"
    " .hh .cs .swift .m .mm .rb .php .pl .pm .lua .r .jl .sh .bash .zsh .fish .ps1 .sql .hs .ml"
    " .ex .exs .erl .clj .dart .vue .svelte .zig .nim .v .proto .css .scss".split())


def _budget_args(parser: argparse.ArgumentParser) -> None:
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--ratio", type=float,
                        help="kept fraction of the prompt's tokens (0.5 when no budget is given)")
    budget.add_argument("--tokens", type=int, help="token budget for the whole prompt")
    budget.add_argument("--auto", action="store_true", help="pick the ratio from the content")
    parser.add_argument("--preset", default="fast", choices=available_presets(),
                        help="engine preset")
    parser.add_argument("--scorer", choices=available_scorers(), help="replaces the preset's")
    parser.add_argument("--policy", default="tersify", choices=available_policies(),
                        help="compression policy")
    parser.add_argument("--tokenizer", default="cl100k_base",
                        help="cl100k_base, o200k_base or a Hugging Face tokenizer")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")


class _DefaultsShown(argparse.HelpFormatter):
    """Help that names each option's default, when it has one worth naming."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, "", [], False, argparse.SUPPRESS) or "%(default)" in text:
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tersify``."""
    parser = argparse.ArgumentParser(
        prog="tersify", description="Question-aware prompt compression under an exact token "
        "budget: compress files, standard input or a JSON-lines batch, or serve the HTTP API.")
    parser.add_argument("--version", action="version", version=f"tersify {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    shown_defaults = _DefaultsShown
    comp = sub.add_parser("compress", help="compress files, stdin or a JSON-lines batch",
                          formatter_class=shown_defaults)
    comp.add_argument("files", nargs="*", help="documents ('-' or nothing: standard input)")
    comp.add_argument("-r", "--recursive", action="store_true",
                      help="a directory argument means every file under it (hidden ones aside)")
    comp.add_argument("--kind", choices=DOCUMENT_KINDS,
                      help="read the files or standard input as code (whole blocks kept or "
                      "dropped), as text, or tell them apart by their lines (auto); unset: code "
                      "for files with a source-code suffix (.py, .js, .go, ...), auto otherwise")
    comp.add_argument("-q", "--question", default="", help="the question (kept verbatim)")
    comp.add_argument("-i", "--instruction", default="", help="instruction (kept verbatim)")
    comp.add_argument("--force-keep", action="append", default=[], metavar="TEXT",
                      help="text that must survive (repeatable)")
    comp.add_argument("--reorder", default="original", choices=REORDERS,
                      help="order of the documents in the output")
    comp.add_argument("--jsonl", type=Path, metavar="FILE",
                      help="one request per line (CompressionRequest fields); JSON lines out")
    _budget_args(comp)
    demo = sub.add_parser("demo", help="compress the bundled example RAG prompt",
                          formatter_class=shown_defaults)
    _budget_args(demo)
    add_batch_command(sub)
    _server_commands(sub)
    return parser


def _server_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    # The one ``tersify`` command hosts the server's commands when the ``server`` extra is
    # installed; without it (importing the server package needs FastAPI) compress and demo work.
    try:
        from tersify.integrations.server.cli import add_commands
    except ImportError:
        return
    add_commands(sub)


def _budget(args: argparse.Namespace) -> dict[str, Any]:
    if args.tokens is not None:
        return {"target_tokens": args.tokens, "target_ratio": None}
    if args.auto:
        return {"target_ratio": "auto"}
    return {"target_ratio": args.ratio if args.ratio is not None else 0.5}


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {**_budget(args), "policy": args.policy, "scorer": args.scorer}


def _given_texts(args: argparse.Namespace) -> dict[str, Any]:
    """-q, -i, --force-keep and --reorder as given on the command line (defaults for a batch's
    lines, which can override them); those left at their defaults are left out."""
    given = {"question": args.question, "instruction": args.instruction,
             "force_keep": args.force_keep,
             "reorder": None if args.reorder == "original" else args.reorder}
    return {name: value for name, value in given.items() if value}


def _documents(paths: Sequence[str], stdin: TextIO, recursive: bool = False,
               kind: DocumentKind | None = None) -> list[Document]:
    # Bytes that are not UTF-8 are replaced, in files and standard input alike.
    if not paths or list(paths) == ["-"]:
        buffer = getattr(stdin, "buffer", None)
        text = buffer.read().decode("utf-8", "replace") if buffer is not None else stdin.read()
        if not text.strip():
            raise InvalidRequestError("standard input is empty: pipe a prompt in or give files")
        return [Document(text=text, id="stdin", kind=kind or "auto")]
    return [Document(text=path.read_text(encoding="utf-8", errors="replace"), id=str(path),
                     kind=kind or _kind_of(path))
            for path in _files(paths, recursive)]


def _kind_of(path: Path) -> DocumentKind:
    return "code" if path.suffix.lower() in CODE_SUFFIXES else "auto"


def _files(paths: Sequence[str], recursive: bool) -> list[Path]:
    """The files named, a directory's files (sorted, hidden ones left out) with ``recursive``."""
    found: list[Path] = []
    for name in map(Path, paths):
        if not name.is_dir():
            found.append(name)
        elif not recursive:
            raise InvalidRequestError(f"{name} is a directory: add -r to read every file under it")
        else:
            found.extend(sorted(p for p in name.rglob("*") if p.is_file()
                                and not any(part.startswith(".")
                                            for part in p.relative_to(name).parts)))
    if not found:
        raise InvalidRequestError(f"no files under {', '.join(paths)}")
    return found


def _print(result: CompressionResult, *, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return
    s = result.stats
    out.write(result.compressed_prompt + "\n\n")
    out.write(f"--- tokens {s.original_tokens} -> {s.compressed_tokens} (target {s.target_tokens},"
              f" {s.compression_factor:.1f}x)  words {s.original_words} -> {s.compressed_words}"
              f"  policy {result.policy}  scorer {result.scorer}  {result.duration_ms:.1f} ms\n")
    kept = sum(d.kept for d in result.documents)
    out.write(f"--- documents kept {kept}/{len(result.documents)}\n")


def _batch(args: argparse.Namespace, compressor: Compressor, out: TextIO) -> None:
    from tqdm import tqdm

    batch = _read_batch(args.jsonl, {**_settings(args), **_given_texts(args)}, compressor)
    bar = tqdm(total=len(batch), unit="req", file=sys.stderr, disable=len(batch) < 2)
    for where, req in batch:
        with _located(where):
            result = compressor.compress(req)
        _print(result, as_json=True, out=out)
        bar.update()
    bar.close()


def _read_batch(path: Path, settings: dict[str, Any],
                compressor: Compressor) -> list[tuple[str, CompressionRequest]]:
    """Every request of a JSON-lines file, checked before the first one runs, so a bad line
    stops the batch before anything is written. Settings from the command line are defaults
    that each line can override."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(f"{path} is not UTF-8 text ({exc.reason} at byte "
                                  f"{exc.start})") from None
    batch = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}, line {n}"
        with _located(where):
            req = request_from_dict({**settings, **json_object(line)})
            if get_policy(req.policy).uses_scorer:
                compressor.scorer(req.scorer)  # an unknown scorer fails here, not halfway
        batch.append((where, req))
    return batch


@contextmanager
def _located(where: str) -> Iterator[None]:
    """Prefix an error with the place (file and line) of the input that caused it."""
    try:
        yield
    except TersifyError as exc:
        raise TersifyError(f"{where}: {exc}") from None


def _demo_request(args: argparse.Namespace) -> CompressionRequest:
    example = json.loads(files("tersify").joinpath("data/example.json").read_text("utf-8"))
    docs = [Document(text=d["text"], id=d["id"]) for d in example["contexts"]]
    return CompressionRequest(contexts=docs, instruction=example["instruction"],
                              question=example["question"], **_settings(args))


def _server_command(args: argparse.Namespace) -> int:
    """``serve`` or ``keys``; without the ``server`` extra, one line and status 2."""
    try:
        from tersify.integrations.server.cli import run

        return int(run(args))
    except MissingDependencyError as exc:
        sys.stderr.write(f"tersify: error: {exc}\n")
        return 2
    except ImportError as exc:  # a server module's own import, before any require()
        missing = MissingDependencyError((exc.name or "a server package").split(".")[0], "server")
        sys.stderr.write(f"tersify: error: {missing}\n")
        return 2


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (2: bad input, with a one-line message;
    130: interrupted; 141: the reader of the output went away, as after ``| head -1``)."""
    try:
        return _run(argv, stdin)
    except KeyboardInterrupt:
        sys.stderr.write("tersify: interrupted\n")
        return 130
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit: point it away.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tersify")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _run(argv: Sequence[str] | None, stdin: TextIO | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "jsonl", None) is not None and args.files:
        parser.error("give files or --jsonl, not both")
    out = sys.stdout
    if args.command in ("serve", "keys"):
        return _server_command(args)
    if args.command == "batch":
        return run_batch_command(args)
    try:
        compressor = Compressor(preset=args.preset, tokenizer=args.tokenizer)
        if args.command == "demo":
            req = _demo_request(args)
            out.write(f"question: {req.question}\n\n")
        elif args.jsonl is not None:
            _batch(args, compressor, out)
            return 0
        else:
            docs = _documents(args.files, stdin or sys.stdin, args.recursive, args.kind)
            req = CompressionRequest(contexts=docs, question=args.question,
                                     instruction=args.instruction, force_keep=args.force_keep,
                                     reorder=args.reorder, **_settings(args))
        _print(compressor.compress(req), as_json=args.json, out=out)
    except BrokenPipeError:
        raise
    except (TersifyError, OSError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the cause wrote
        sys.stderr.write(f"tersify: error: {message}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
