"""`hqmed cost MODEL` end to end on a small registered model."""

from __future__ import annotations

import json

from hqmed import models
from hqmed.cli import main


def test_cost_command_json(capsys):
    rc = main(["cost", "lcnet_050_tanh4", "--input-size", "28", "28", "--num-classes", "2",
               "-o", "stride_list=[1,1,2,2,2]", "--no-timing", "--json", "--device", "cpu",
               "--batch-size", "2"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    model = models.create_model("lcnet_050_tanh4", 2, stride_list=[1, 1, 2, 2, 2])
    # oracle: torch's own parameter list (not hqmed's count_parameters, which cost itself uses)
    assert out["params"] == sum(p.numel() for p in model.parameters() if p.requires_grad) > 0
    assert out["input_shape"] == [3, 28, 28] and out["flops"] > 0


def test_cost_command_table(capsys):
    rc = main(["cost", "lcnet_050", "--input-size", "32", "32", "--repeats", "2",
               "--train-repeats", "1", "--batch-size", "2", "--n-train-samples", "10",
               "--device", "cpu"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Trainable params." in text and "Inference (1 sample)" in text and "5 steps" in text


def test_cost_command_bad_option(capsys):
    assert main(["cost", "lcnet_050", "-o", "nonsense", "--no-timing"]) == 1
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_cost_command_hq_litespinenet_matches_table8(capsys):
    rc = main(["cost", "hq_litespinenet", "--input-size", "32", "32", "--no-timing", "--json",
               "--device", "cpu", "--batch-size", "2"])
    assert rc == 0
    q = json.loads(capsys.readouterr().out)["quantum"]
    assert len(q) == 1
    # LiteSpineNet paper, Table 8: 7 qubits, 63 circuit parameters, 21 CNOTs, 126 gradient evals
    r = q[0]["resources"]
    assert r["qubits"] == 7 and r["two_qubit_gates"] == 21
    assert r["trainable_parameters"] == 63 and r["shift_evaluations_weights"] == 126
    assert q[0]["evaluations_per_sample"] == 1.0 and r["state_vector_size"] == 128
