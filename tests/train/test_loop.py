"""Training-loop behaviour: early stopping, per-step schedules, gradient clipping."""
import json

from nnframe.train import run

from .helpers import SMALL_RECIPE, write_recipe


def test_early_stopping_stops_and_restores_the_best(tmp_path, capsys):
    text = SMALL_RECIPE + "early_stopping: {monitor: valid.loss, patience: 2}\n"
    recipe = write_recipe(tmp_path, text)
    # A learning rate this high makes the validation loss rise again quickly.
    report = run(recipe, ["train.epochs=40", "optimizer.learning_rate=0.05", "schedule=null"],
                 out=str(tmp_path / "run"))
    assert report["stopped_early"] and report["epochs"] < 40
    assert "early stopping: valid.loss did not improve for 2 epoch(s)" in capsys.readouterr().out
    best = report["best"]["valid.loss"]
    assert abs(report["valid"]["loss"] - best) < 1e-6      # the best parameters were restored


def test_per_step_schedule_with_warmup_and_gradient_clipping(tmp_path):
    text = SMALL_RECIPE.replace("schedule: {type: cosine, total_steps: 6}",
                                "schedule: {type: cosine, total_steps: 200, per: step, warmup: 20}")
    recipe = write_recipe(tmp_path, text)
    out = tmp_path / "run"
    report = run(recipe, ["train.epochs=2", "optimizer.grad_clip=1.0"], out=str(out))
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    steps_per_epoch = rows[0]["step"]
    assert rows[0]["lr"] > rows[1]["lr"] > 0          # decaying per step after the warm-up
    assert report["steps"] == 2 * steps_per_epoch
