"""Launched by tests/test_train_ddp.py under torchrun: train from a JSON config, dump this rank's weights."""

import json
import sys

from safetensors.torch import save_file

from msinet.runtime.distributed import close_world
from msinet.train.config import load_config
from msinet.train.trainer import Trainer

config, out_dir = json.loads(sys.argv[1]), sys.argv[2]
trainer = Trainer(load_config(base=config))
trainer.fit()
state = {k: v.detach().contiguous() for k, v in trainer.model.state_dict().items()}
save_file(state, f"{out_dir}/rank{trainer.world.rank}.safetensors")
close_world()
