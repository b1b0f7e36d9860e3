"""ClientApp: ordinary Flower train and evaluate functions, protected by fedcrypt's mod."""

from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedcrypt_flower_app.task import load_partition, mean_squared_error, train_linear
from federated.flower import fedcrypt_mod

app = ClientApp(mods=[fedcrypt_mod])


def _partition(context: Context) -> tuple[np.ndarray, np.ndarray]:
    partition = int(context.node_config.get("partition-id", 0))
    partitions = int(context.node_config.get("num-partitions", 1))
    return load_partition(partition, partitions)


@app.train()
def train(msg: Message, context: Context) -> Message:
    params = msg.content["arrays"]["params"].numpy()
    config = msg.content["config"]
    x, y = _partition(context)
    weight, bias = train_linear(
        float(params[0]), float(params[1]), x, y, int(config["local-epochs"]), float(config["lr"])
    )
    trained = ArrayRecord({"params": Array(np.array([weight, bias]))})
    metrics = MetricRecord(
        {"num-examples": len(x), "train-mse": mean_squared_error(weight, bias, x, y)}
    )
    return Message(RecordDict({"arrays": trained, "metrics": metrics}), reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    params = msg.content["arrays"]["params"].numpy()
    x, y = _partition(context)
    mse = mean_squared_error(float(params[0]), float(params[1]), x, y)
    metrics = MetricRecord({"num-examples": len(x), "mse": mse})
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)
