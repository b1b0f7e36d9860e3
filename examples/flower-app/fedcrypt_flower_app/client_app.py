"""ClientApp: an ordinary Flower train function, protected by fedcrypt's mod."""

from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedcrypt_flower_app.task import load_partition, train_linear
from federated.flower import fedcrypt_mod

app = ClientApp(mods=[fedcrypt_mod])


@app.train()
def train(msg: Message, context: Context) -> Message:
    params = msg.content["arrays"]["params"].numpy()
    config = msg.content["config"]
    partition = int(context.node_config.get("partition-id", 0))
    partitions = int(context.node_config.get("num-partitions", 1))
    x, y = load_partition(partition, partitions)
    weight, bias = train_linear(
        float(params[0]), float(params[1]), x, y, int(config["local-epochs"]), float(config["lr"])
    )
    trained = ArrayRecord({"params": Array(np.array([weight, bias]))})
    return Message(
        RecordDict({"arrays": trained, "metrics": MetricRecord({"num-examples": len(x)})}),
        reply_to=msg,
    )
