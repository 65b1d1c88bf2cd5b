"""Stage prepare_model: write models/base, a Hugging Face folder with a training-compatible chat template.

    python stages/prepare_model.py            # what `dvc repro prepare_model` runs
"""

from medreason.base_model import prepare_base_model
from medreason.config import load_params
from medreason.tracking import publish, stage_run

OUT = "models/base"
REPORT = "reports/prepare_model.json"


def main() -> None:
    params = load_params().model
    with stage_run("prepare_model", params):
        info = prepare_base_model(params.base, OUT, dtype=params.dtype, revision=params.revision)
        publish(info, REPORT)
    print(f"models/base: {info['how']}; chat template: {info['training_template']}")


if __name__ == "__main__":
    main()
