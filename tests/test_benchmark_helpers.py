"""The benchmark's own scoring: surviving words, loss stages, the LLMLingua model view."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from errors import error_report, loss_stage  # noqa: E402
from lingua import compat_model_dir  # noqa: E402
from metrics import document_kept, surviving_share  # noqa: E402
from scaling import main as scaling_main  # noqa: E402

DOC = ("Marie Curie\nMarie Curie was a physicist. She won the Nobel Prize in Physics in 1903. "
       "She was born in Warsaw.")
OTHER = "Paris\nParis is the capital of France."


def test_surviving_share_counts_words_in_order() -> None:
    assert surviving_share("one two three four", "one two three four") == 1.0
    assert surviving_share("one two three four", "four three") == 0.25  # order matters
    assert surviving_share("one two three four", "") == 0.0
    assert surviving_share("", "anything") == 0.0


def test_document_kept_needs_half_the_words() -> None:
    words = DOC.split()
    assert document_kept(DOC, " ".join(words[: len(words) // 2 + 2]))
    assert not document_kept(DOC, "Marie Curie")  # the title alone is not the document


@pytest.mark.parametrize(("kept", "stage"), [
    (["", OTHER], "document dropped"),
    (["Marie Curie", OTHER], "document dropped"),  # not kept: under half of its words
    (["Marie Curie\nMarie Curie was a physicist. She was born in Warsaw.", OTHER],
     "sentence dropped"),
    (["Marie Curie was a physicist. She won the Nobel Prize in Physics. She was born in Warsaw.",
      OTHER], "word dropped"),
])
def test_loss_stage_names_where_the_answer_went(kept: list[str], stage: str) -> None:
    assert loss_stage(["1903"], [DOC, OTHER], kept) == stage


def test_loss_stage_when_no_document_holds_the_answer() -> None:
    assert loss_stage(["Berlin"], [DOC, OTHER], [DOC, OTHER]) == "not in input"


def test_error_report_counts_losses_at_the_lowest_ratio() -> None:
    records = [
        {"method": "a", "ratio": 0.1, "index": 0, "id": "q0", "answers": ["x"],
         "stage": "word dropped"},
        {"method": "a", "ratio": 0.1, "index": 1, "id": "q1", "answers": ["y"], "stage": None},
        {"method": "a", "ratio": 0.5, "index": 0, "id": "q0", "answers": ["x"],
         "stage": "document dropped"},
    ]
    text = error_report(records, ["a"], {"q0": "what is x?"})
    assert "| a | 2 | 1 | 1 | 0 | 0 | 0 |" in text
    assert "q0" in text and "what is x?" in text and "q1" not in text


def test_compat_model_dir_translates_transformers5_files(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    (source / "config.json").write_text(json.dumps({
        "model_type": "llama", "dtype": "float32", "rope_parameters": {"rope_theta": 100000.0},
        "quantization_config": {"quant_method": "gguf"}}))
    (source / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "TokenizersBackend", "backend": "tokenizers", "eos_token": "<e>"}))
    (source / "model.safetensors").write_bytes(b"weights")
    compat_model_dir(source, target)
    config = json.loads((target / "config.json").read_text())
    tokenizer = json.loads((target / "tokenizer_config.json").read_text())
    assert config["rope_theta"] == 100000.0 and config["torch_dtype"] == "float32"
    assert "quantization_config" not in config and "rope_parameters" not in config
    assert tokenizer == {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<e>"}
    assert (target / "model.safetensors").read_bytes() == b"weights"


def test_the_scaling_benchmark_prints_one_row_per_count(capsys: pytest.CaptureFixture[str]) -> None:
    scaling_main(["--counts", "10,200", "--repeat", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 2")]
    assert len(rows) == 1 and rows[0].startswith("| 200 |") and rows[0].endswith("| yes |")


def test_recall_by_language_reads_the_language_from_the_id(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    from by_language import main as by_language

    records = tmp_path / "r.jsonl.gz"
    rows = [{"method": "fast", "ratio": 0.25, "id": f"{lang}-{i}", "answer_kept": kept}
            for lang, i, kept in [("de", 1, True), ("de", 2, False), ("zh", 1, True)]]
    with gzip.open(records, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(r) for r in [*rows, {"method": "fast", "peak_mb": 1}]))
    by_language([str(records)])
    out = capsys.readouterr().out
    assert "| de | 0.50 |" in out and "| zh | 1.00 |" in out
