"""The built-in tasks' specs (importing no torch): one `register_task` per task family member."""

from d2ltui.tasks.spec import TaskSpec, register_task

# What a tabular RL agent never reads: it has no optimizer (Q-learning's rate is its alpha knob), and an epoch
# is one sweep or one episode of its environment, not batches of a dataset.
TABULAR_IGNORES = ("optim", "data.batch_size", "data.num_train", "data.resize", "data.augment")

register_task(TaskSpec(
    "regression", "d2ltui.tasks.supervised:Regression", "real-valued targets: squared loss (log RMSE on Kaggle prices)",
    defaults={"data": {"name": "synthetic-regression", "batch_size": 10}, "optim": {"lr": 0.03},
              "train": {"epochs": 3}},
    side_metrics=("log_rmse",),  # validation's log RMSE on Kaggle prices, drawn beside the loss
    panels=("loss", "samples"), sample_kinds=("regression", "linear-regression", "nadaraya-watson"), folds=True))
register_task(TaskSpec(
    "classification", "d2ltui.tasks.supervised:Classification", "classes: cross-entropy loss, accuracy",
    metric="acc", defaults={"data": {"name": "shapes", "batch_size": 128}, "optim": {"lr": 0.1}},
    sample_kinds=("images", "points", "predictions"), folds=True))
register_task(TaskSpec(
    "language-model", "d2ltui.tasks.sequences:LanguageModel", "next-token prediction: perplexity, greedy continuation",
    metric="ppl", defaults={"data": {"name": "python-docs", "batch_size": 128, "num_steps": 32},
                            "optim": {"name": "adam", "lr": 0.01, "clip": 1.0}, "train": {"epochs": 1}},
    sample_kinds=("text",)))
register_task(TaskSpec(
    "seq2seq", "d2ltui.tasks.sequences:Seq2Seq", "sequence to sequence: masked cross-entropy, BLEU, greedy decoding",
    metric="bleu", defaults={"data": {"name": "dates", "batch_size": 128, "num_train": 4000, "num_val": 500},
                             "optim": {"name": "adam", "lr": 0.01, "clip": 1.0}, "train": {"epochs": 3}},
    sample_kinds=("translations",)))
register_task(TaskSpec(
    "detection", "d2ltui.tasks.detection:Detection", "boxes: the SSD loss, class error, box MAE, AP@0.5",
    metric="ap50", defaults={"data": {"name": "bananas", "batch_size": 32},
                             "optim": {"lr": 0.2, "weight_decay": 5e-4}, "train": {"epochs": 20}},
    sample_kinds=("detections",)))  # the book's TinySSD settings
register_task(TaskSpec(
    "gan", "d2ltui.tasks.gan:GANTask", "a generator and a discriminator trained in turn",
    side_metrics=("loss_d", "loss_g"),
    defaults={"data": {"name": "gaussian-2d", "batch_size": 8}, "optim": {"name": "adam", "lr": 0.05, "lr_g": 0.005},
              "train": {"epochs": 20}},  # the book's first GAN
    panels=("gan-losses", "samples"), sample_kinds=("gan-points", "gan-images"), finetune=False))
register_task(TaskSpec(
    "value-iteration", "d2ltui.tasks.rl:ValueIteration", "dynamic programming on a known environment",
    metric="success", side_metrics=("return",),
    defaults={"data": {"name": "frozenlake-4x4"}, "train": {"epochs": 10, "log_every": 1}},
    panels=("return", "metric", "samples"), sample_kinds=("rl-values",), finetune=False,
    mixed_precision=False, ignores=TABULAR_IGNORES))
register_task(TaskSpec(
    "q-learning", "d2ltui.tasks.rl:QLearning", "tabular Q-learning from episodes",
    metric="success", side_metrics=("return",),
    defaults={"data": {"name": "frozenlake-4x4"}, "train": {"epochs": 256, "log_every": 1}},
    panels=("return", "metric", "samples"), sample_kinds=("rl-values",), finetune=False,
    mixed_precision=False, ignores=TABULAR_IGNORES))
