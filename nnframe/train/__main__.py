"""``python -m nnframe.train RECIPE.yaml [--set key.path=value ...] [--check] ...``"""
import argparse
import sys

import yaml

__all__ = ["main"]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m nnframe.train",
        description="Train a model from a YAML recipe (see recipes/ for examples).")
    parser.add_argument("recipe", help="the recipe file (YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE", help="override a recipe value (repeatable)")
    parser.add_argument("--check", action="store_true",
                        help="validate the recipe, print it resolved and the model summary, "
                             "and exit without training")
    parser.add_argument("--resume", metavar="CKPT|auto",
                        help="continue from a checkpoint, or from OUT/checkpoints/last.h5 (auto)")
    parser.add_argument("--out", metavar="DIR", help="run directory (default runs/<name>)")
    parser.add_argument("--device", choices=["numpy", "opencl"], help="backend to train on")
    parser.add_argument("--seed", type=int, help="override the recipe's seed")
    args = parser.parse_args(argv)

    from nnframe.train import trainer
    from nnframe.train.recipe import RecipeErrors
    try:
        if args.check:
            if args.device:
                from nnframe import config
                config.device = args.device
            p = trainer.prepare(args.recipe, args.overrides, args.seed)
            print(yaml.safe_dump(p.resolved, sort_keys=False), end="")
            print()
            print(p.model.summary())
            sizes = ", ".join(f"{k} {len(v.x)}" for k, v in p.splits.items())
            masked = " with a mask" if p.splits["train"].mask is not None else ""
            print(f"\ndata: {p.dataset.name}, examples of shape {p.splits['train'].x.shape[1:]}"
                  f"{masked}; splits: {sizes}")
            print("recipe OK")
            return 0
        trainer.run(args.recipe, args.overrides, resume=args.resume, out=args.out,
                    device=args.device, seed=args.seed)
        return 0
    except RecipeErrors as exc:
        print(f"recipe error{'s' if len(exc.errors) > 1 else ''}:", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, trainer.RunDirError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except trainer.TrainingStopped as exc:
        print(f"training stopped: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
